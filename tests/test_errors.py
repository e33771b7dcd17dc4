from __future__ import annotations

import pickle

import pytest

from dirac_core.errors import (
    BulkFailures,
    BulkResult,
    CatalogError,
    ConfigError,
    DiracError,
    NotFound,
    PluginNotFound,
    PluginUnavailable,
    StorageError,
)


def test_every_error_derives_from_the_root() -> None:
    import dirac_core.errors as mod

    classes = [getattr(mod, n) for n in mod.__all__ if isinstance(getattr(mod, n), type)]
    errors = [c for c in classes if issubclass(c, Exception) and c is not BulkFailures]
    assert len(errors) >= 15
    assert all(issubclass(c, DiracError) for c in errors)


def test_every_error_is_drawn_in_the_docstring() -> None:
    import dirac_core.errors as mod

    doc = mod.__doc__ or ""
    for name in mod.__all__:
        obj = getattr(mod, name)
        if isinstance(obj, type) and issubclass(obj, DiracError):
            assert name in doc, name


def test_structured_fields_survive_pickling() -> None:
    err = NotFound("no job 12", job_id=12)
    assert err.job_id == 12  # type: ignore[attr-defined]
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is NotFound
    assert back.fields == {"job_id": 12}
    assert str(back) == "no job 12"


def test_config_error_lists_every_problem() -> None:
    err = ConfigError([("a.b", "expected int, got 'x'"), ("c[0].d", "extra key")], source="site.toml")
    text = str(err)
    assert "site.toml" in text and "2 problem" in text
    assert "  a.b: expected int, got 'x'" in text
    assert "  c[0].d: extra key" in text
    assert err.problems == [("a.b", "expected int, got 'x'"), ("c[0].d", "extra key")]


def test_plugin_errors_name_what_to_do() -> None:
    nf = PluginNotFound("dirac.catalogs", "dfcx", ["sql", "memory"])
    assert "installed: memory, sql" in str(nf)
    assert nf.available == ["memory", "sql"]
    un = PluginUnavailable("dirac.storage_protocols", "root", "xrootd", "XRootD")
    assert "pip install 'dirac-core[xrootd]'" in str(un)


def test_bulk_result_partial_failure_raises_group_with_notes() -> None:
    res: BulkResult[str, int] = BulkResult()
    res.add_ok("/a", 1)
    res.add_failed("/b", NotFound("no /b"))
    res.add_failed("/c", StorageError("disk full"))
    assert len(res) == 3 and not res.all_ok
    assert list(res) == ["/a", "/b", "/c"]
    with pytest.raises(BulkFailures) as info:
        res.raise_for_failures("put")
    group = info.value
    assert "2 of 3" in str(group)
    assert [type(e) for e in group.exceptions] == [NotFound, StorageError]
    assert group.exceptions[0].__notes__ == ["item: '/b'"]
    # calling again does not pile up notes
    with pytest.raises(BulkFailures):
        res.raise_for_failures()
    assert group.exceptions[0].__notes__ == ["item: '/b'"]


def test_bulk_result_all_ok_does_not_raise_and_failure_overrides() -> None:
    res: BulkResult[str, None] = BulkResult({"x": None})
    res.raise_for_failures()
    res.add_failed("x", CatalogError("late failure"))
    assert res.ok == {} and set(res.failed) == {"x"}
    with pytest.raises(ValueError, match="already failed"):
        res.add_ok("x", None)
    with pytest.raises(ValueError, match="both ok and failed"):
        BulkResult({"y": 1}, {"y": CatalogError("e")})

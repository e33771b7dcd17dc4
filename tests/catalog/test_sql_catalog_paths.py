"""The catalog's LFN fast path agrees with normalize_lfn; path keys, ancestors, options, entry point."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dirac_core.config.sections import SqlCatalog
from dirac_core.errors import ConfigError
from dirac_core.model.clock import FakeClock
from dirac_core.model.lfn import InvalidLFN, normalize_lfn
from dirac_plugins_catalog.sql import CatalogOptions, SQLFileCatalog
from dirac_plugins_catalog.sql.paths import ancestors, canonical, path_key

_CHARS = st.sampled_from(["a", "Z", "0", ".", " ", "/", "\\", "\x00", "\n", "é", "-", "_", "~", "\x7f",
                          "\u3000", "\udc80"])
_PARTS = st.lists(st.text(_CHARS, min_size=1, max_size=12), max_size=18)
_TEXT = st.text(_CHARS, max_size=40) | st.builds(lambda parts: "/" + "/".join(parts), _PARTS)


def _reference(lfn: object) -> str | None:
    try:
        result = normalize_lfn(lfn)
        result.encode()
        return result
    except (InvalidLFN, UnicodeEncodeError):
        return None


@settings(max_examples=2000, deadline=None)
@given(st.lists(_TEXT | st.sampled_from(["/grid", "/grid/a", "/gridx", "/a/..", "/a/.b/c", "/a ", "lfn:/a"]),
                max_size=6))
def test_the_fast_path_agrees_with_normalize_lfn(lfns: list[str]) -> None:
    good, bad, same = canonical(lfns)
    for lfn in lfns:
        expected = _reference(lfn)
        if expected is None:
            assert lfn in bad and lfn not in good
        else:
            assert good[lfn] == expected
    assert same == all(good.get(lfn) == lfn for lfn in lfns)


def test_a_batch_of_canonical_lfns_and_one_of_everything() -> None:
    lfns = [f"/vo/run{i}/f.root" for i in range(100)]
    assert canonical(lfns) == (dict(zip(lfns, lfns, strict=True)), {}, True)
    good, bad, same = canonical([*lfns, "lfn:/vo/x", 7, "/vo/../x", "/"])
    assert good["lfn:/vo/x"] == "/vo/x" and set(bad) == {"7", "/vo/../x", "/"} and not same
    assert canonical(["/", "LFN:/"], root=True)[0] == {"/": "/", "LFN:/": "/"}


def test_path_keys_and_ancestors() -> None:
    assert ancestors("/a/b/c") == ["/", "/a", "/a/b"]
    assert ancestors("/a") == ["/"] and ancestors("/") == []
    assert len(path_key("/a")) == 32 and path_key("/a") != path_key("/b")


def test_options() -> None:
    assert CatalogOptions.from_options({}) == CatalogOptions()
    opts = CatalogOptions.from_options({"unique_guid": True, "global_read": False, "default_umask": "755"})
    assert (opts.unique_guid, opts.global_read, opts.default_mode) == (True, False, 0o755)
    assert CatalogOptions.from_options({"default_mode": 0o700}).default_mode == 0o700
    with pytest.raises(ConfigError) as info:
        CatalogOptions.from_options({"unique_guid": "yes", "default_mode": "999", "colour": 1}, where="x")
    assert {path for path, _ in info.value.problems} == {"x.unique_guid", "x.default_mode", "x.colour"}


def test_from_section(tmp_path: Path) -> None:
    from dirac_core.db import Database

    section = SqlCatalog(name="DFC", db_url=f"sqlite:///{tmp_path / 'own.db'}",
                         options={"unique_guid": True})
    with Database(f"sqlite:///{tmp_path / 'main.db'}") as main:
        catalog = SQLFileCatalog.from_section(section, main, FakeClock())
        try:
            assert catalog.name == "DFC" and catalog.options.unique_guid
            assert catalog.database is not main  # its own database, migrated
            assert catalog.create_directories(["/vo"]).all_ok
        finally:
            catalog.close()
        shared = SQLFileCatalog.from_section(SqlCatalog(name="DFC"), main, FakeClock())
        assert shared.database is main

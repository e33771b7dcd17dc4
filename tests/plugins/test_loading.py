from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from stevedore import ExtensionManager

from dirac_core.errors import PluginError, PluginNotFound, PluginUnavailable
from dirac_core.plugins import DRIVER_GROUPS, PluginGroup, available, import_backend, load_driver
from dirac_core.plugins.loading import BACKEND_EXTRAS
from dirac_core.testing import MemoryCatalog


def test_groups_are_the_designed_ones() -> None:
    assert {str(g) for g in PluginGroup} == {
        "dirac.computing_elements", "dirac.batch_systems", "dirac.transports",
        "dirac.storage_protocols", "dirac.catalogs", "dirac.identity_providers", "dirac.splitters",
        "dirac.operation_handlers", "dirac.policies", "dirac.message_queues", "dirac.config_sections",
        "dirac.hooks"}
    assert PluginGroup.HOOKS not in DRIVER_GROUPS


def test_every_declared_entry_point_loads() -> None:
    loaded = 0
    for group in DRIVER_GROUPS:
        for name in available(group):
            assert load_driver(group, name) is not None, (group, name)
            loaded += 1
    assert loaded >= 3


def test_load_memory_catalog() -> None:
    assert load_driver(PluginGroup.CATALOGS, "memory") is MemoryCatalog


def test_unknown_name_lists_installed_ones() -> None:
    with pytest.raises(PluginNotFound) as info:
        load_driver(PluginGroup.CATALOGS, "no-such-catalog")
    assert "memory" in info.value.available  # type: ignore[attr-defined]
    assert "installed: " in str(info.value) and "memory" in str(info.value)


@pytest.fixture
def fake_distribution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An installed distribution (dist-info on sys.path) declaring broken plugins."""
    dist = tmp_path / "fakeplugins-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplugins\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(textwrap.dedent("""\
        [dirac.storage_protocols]
        needs-xrootd = fakeplugins_xrd:Driver
        needs-nothing-known = fakeplugins_other:Driver
        explodes = fakeplugins_boom:Driver
        """))
    (tmp_path / "fakeplugins_xrd.py").write_text("import fake_xrootd_lib.client\nclass Driver: pass\n")
    # the real XRootD bindings may be installed here: pretend a missing library belongs to that extra
    monkeypatch.setitem(BACKEND_EXTRAS, "fake_xrootd_lib", "xrootd")
    (tmp_path / "fakeplugins_other.py").write_text("import some_lib_nobody_has\nclass Driver: pass\n")
    (tmp_path / "fakeplugins_boom.py").write_text("raise RuntimeError('broken at import')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    # stevedore caches entry points per group for the life of the process
    monkeypatch.setattr(ExtensionManager, "ENTRY_POINT_CACHE", {})
    return tmp_path


def test_missing_backend_names_the_extra(fake_distribution: Path) -> None:
    with pytest.raises(PluginUnavailable) as info:
        load_driver(PluginGroup.STORAGE_PROTOCOLS, "needs-xrootd")
    assert info.value.extra == "xrootd"  # type: ignore[attr-defined]
    assert "pip install 'dirac-core[xrootd]'" in str(info.value)
    with pytest.raises(PluginUnavailable, match="some_lib_nobody_has"):
        load_driver(PluginGroup.STORAGE_PROTOCOLS, "needs-nothing-known")


def test_broken_plugin_is_a_plugin_error(fake_distribution: Path) -> None:
    with pytest.raises(PluginError, match="broken at import") as info:
        load_driver(PluginGroup.STORAGE_PROTOCOLS, "explodes")
    assert not isinstance(info.value, PluginUnavailable)


def test_import_backend_lazily() -> None:
    assert import_backend("json", group=PluginGroup.STORAGE_PROTOCOLS, name="x").dumps([]) == "[]"
    with pytest.raises(PluginUnavailable) as info:
        import_backend("boto3_not_installed_here", group=PluginGroup.STORAGE_PROTOCOLS, name="s3")
    assert info.value.name == "s3"  # type: ignore[attr-defined]

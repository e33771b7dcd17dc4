"""Input queries: files matching at creation, files pushed by the ``dirac_file_registered`` hook (also
through a real data manager), and the periodic scan."""

from __future__ import annotations

from pathlib import Path

import pytest
from tfs_helpers import ALICE, GRID, build, catalog_with, spec

from dirac_core.config import load_config
from dirac_core.db import Database
from dirac_core.dms.manager import DataManager
from dirac_core.dms.storage_element import StorageElements
from dirac_core.errors import CatalogError
from dirac_core.model import FakeClock
from dirac_core.model.transformation import TransformationFileStatus as F
from dirac_core.plugins.catalog import FileEntry
from dirac_core.plugins.manager import make_plugin_manager
from dirac_core.testing.memory import MemoryCatalog
from dirac_core.transformation import InputQueryTask


@pytest.fixture
def catalog() -> MemoryCatalog:
    catalog = catalog_with({"/demo/run1/a": ["SE-A"], "/demo/run1/b": ["SE-A"], "/demo/run2/a": ["SE-B"]})
    catalog.add_metadata_field("run", "int", for_files=False)
    catalog.add_metadata_field("quality", "string", for_files=True)
    catalog.set_metadata({"/demo/run1": {"run": 1}, "/demo/run2": {"run": 2},
                          "/demo/run1/b": {"quality": "bad"}}).raise_for_failures()
    return catalog


def _register(catalog: MemoryCatalog, lfn: str, se: str = "SE-A") -> None:
    catalog.add_files([FileEntry(lfn=lfn, size=5)]).raise_for_failures()
    catalog.add_replicas({lfn: [se]}).raise_for_failures()


def test_creation_attaches_the_files_that_match_already(database: Database, fake_clock: FakeClock,
                                                         catalog: MemoryCatalog) -> None:
    system = build(database, fake_clock, catalog=catalog)
    tid = system.create(spec(input_query={"run": 1, "quality": "Missing"}), ALICE).transformation_id
    assert [(f.lfn, f.status) for f in system.files(tid)] == [("/demo/run1/a", F.UNUSED)]


def test_registered_files_reach_the_transformations_they_match(database: Database, fake_clock: FakeClock,
                                                               catalog: MemoryCatalog) -> None:
    hooks = make_plugin_manager(entry_points=False)
    system = build(database, fake_clock, catalog=catalog, hooks=hooks)
    run1 = system.create(spec("run1", input_query={"run": 1}), ALICE).transformation_id
    run2 = system.create(spec("run2", input_query={"run": {">=": 2}, "SE": "SE-B"}), ALICE).transformation_id
    done = system.create(spec("done", input_query={"run": 1}), ALICE).transformation_id
    system.complete(done)
    plain = system.create(spec("plain"), ALICE).transformation_id
    _register(catalog, "/demo/run1/c")
    _register(catalog, "/demo/run2/c", "SE-B")
    _register(catalog, "/demo/run2/d", "SE-A")
    hooks.hook.dirac_file_registered(lfns=["/demo/run1/c", "/demo/run2/c", "/demo/run2/d"],
                                     metadata={"/demo/run2/d": {"SE": "SE-A"}})
    assert [f.lfn for f in system.files(run1)] == ["/demo/run1/a", "/demo/run1/b", "/demo/run1/c"]
    assert [f.lfn for f in system.files(run2)] == ["/demo/run2/a", "/demo/run2/c"]
    assert len(system.files(done)) == 2 and system.files(plain) == []


def test_a_failing_lookup_never_breaks_the_registration(database: Database, fake_clock: FakeClock,
                                                        catalog: MemoryCatalog,
                                                        monkeypatch: pytest.MonkeyPatch,
                                                        caplog: pytest.LogCaptureFixture) -> None:
    hooks = make_plugin_manager(entry_points=False)
    system = build(database, fake_clock, catalog=catalog, hooks=hooks)
    tid = system.create(spec(input_query={"run": 1}), ALICE).transformation_id

    def down(paths: object) -> None:
        raise CatalogError("catalog down")

    monkeypatch.setattr(catalog, "get_metadata", down)
    hooks.hook.dirac_file_registered(lfns=["/demo/run1/z"], metadata={})
    assert "catalog down" in caplog.text
    assert len(system.files(tid)) == 2


def test_a_data_manager_upload_feeds_a_transformation(database: Database, fake_clock: FakeClock,
                                                      catalog: MemoryCatalog, tmp_path: Path) -> None:
    config = load_config(GRID + """
[[resources.storage_elements.SE-A.protocols]]
type = "memory"
""", format="toml")
    hooks = make_plugin_manager(entry_points=False)
    system = build(database, fake_clock, catalog=catalog, hooks=hooks, config=config)
    tid = system.create(spec(input_query={"run": 2}), ALICE).transformation_id
    source = tmp_path / "out.dat"
    source.write_bytes(b"x" * 100)
    storage = StorageElements(config)
    try:
        DataManager(catalog=catalog, storage=storage, hooks=hooks).put_and_register("/demo/run2/new", source,
                                                                                     "SE-A")
    finally:
        storage.close()
    assert [f.lfn for f in system.files(tid)] == ["/demo/run2/a", "/demo/run2/new"]


def test_the_scan_attaches_what_the_query_finds_now(database: Database, fake_clock: FakeClock,
                                                    catalog: MemoryCatalog) -> None:
    system = build(database, fake_clock, catalog=catalog)  # no hooks: only the scan sees new files
    active = system.create(spec("active", input_query={"run": 2}), ALICE).transformation_id
    system.start(active)
    idle = system.create(spec("idle", input_query={"run": 2}), ALICE).transformation_id
    _register(catalog, "/demo/run2/x")
    _register(catalog, "/demo/run2/y")
    task = InputQueryTask(system)
    assert task.run_once() == {active: 2}
    assert task.run_once() == {active: 0}
    assert [f.lfn for f in system.files(active)] == ["/demo/run2/a", "/demo/run2/x", "/demo/run2/y"]
    assert [f.lfn for f in system.files(idle)] == ["/demo/run2/a"]


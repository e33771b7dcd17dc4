"""The memory catalog passes the metadata conformance suite, and normalises what it is given."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from dirac_core.errors import CatalogError, NotFound
from dirac_core.model.clock import FakeClock
from dirac_core.model.lfn import InvalidLFN
from dirac_core.plugins.catalog import FileEntry
from dirac_core.testing import MemoryCatalog
from dirac_core.testing.conformance import MetadataCatalogSuite


class TestMemoryMetadataCatalog(MetadataCatalogSuite):
    @pytest.fixture
    def driver(self) -> MemoryCatalog:
        return MemoryCatalog()


def test_paths_are_normalised_and_results_keyed_as_given() -> None:
    catalog = MemoryCatalog()
    res = catalog.add_files([FileEntry(lfn="LFN:/vo//a/", size=1), FileEntry(lfn="/vo/../x", size=1)])
    assert set(res.ok) == {"LFN:/vo//a/"}
    assert isinstance(res.failed["/vo/../x"], InvalidLFN)
    assert catalog.get_files(["/vo/a"]).ok["/vo/a"] == FileEntry(lfn="/vo/a", size=1)
    assert catalog.exists(["/grid/vo/a", "/", "lfn:/"]).ok == {"/grid/vo/a": "file", "/": "directory",
                                                                "lfn:/": "directory"}
    assert catalog.list_directory(["/"]).ok["/"].subdirectories == ("/vo",)
    assert isinstance(catalog.get_replicas(["relative"]).failed["relative"], InvalidLFN)


def test_creation_dates_come_from_the_clock() -> None:
    clock = FakeClock(datetime(2025, 1, 1, tzinfo=UTC))
    catalog = MemoryCatalog(clock=clock)
    catalog.add_files([FileEntry(lfn="/vo/old", size=1)])
    clock.set(datetime(2025, 6, 1, tzinfo=UTC))
    catalog.add_files([FileEntry(lfn="/vo/new", size=1), FileEntry(lfn="/vo/old", size=1)])
    assert catalog.find_files({"CreationDate": {">": "2025-03-01"}}) == ["/vo/new"]
    old = catalog.find_files({"ModificationDate": {"<": "2025-03-01"}, "Status": "AprioriGood"})
    assert old == ["/vo/old"]
    assert catalog.find_files({"User": "Missing"}) == ["/vo/new", "/vo/old"]  # no owners in memory


def test_field_names_and_types_are_checked() -> None:
    catalog = MemoryCatalog()
    assert catalog.add_metadata_field("n", "INTEGER", for_files=True).type == "int"
    for name in ("", "has space", "a=b", "x" * 65):
        with pytest.raises(CatalogError, match="invalid metadata field name"):
            catalog.add_metadata_field(name, "int", for_files=False)
    with pytest.raises(CatalogError, match="standard file key"):
        catalog.add_metadata_field("Owner", "string", for_files=False)
    with pytest.raises(CatalogError, match="unknown metadata type"):
        catalog.add_metadata_field("blob", "blob", for_files=False)


def test_datasets_create_their_directory_and_refuse_bad_names() -> None:
    catalog = MemoryCatalog()
    catalog.add_dataset("/vo/sets/all", {"Size": {">=": 0}})
    assert catalog.exists(["/vo/sets"]).ok["/vo/sets"] == "directory"
    with pytest.raises(InvalidLFN):
        catalog.add_dataset("relative", {"Size": 1})
    with pytest.raises(NotFound):
        catalog.dataset("/vo/sets/none")

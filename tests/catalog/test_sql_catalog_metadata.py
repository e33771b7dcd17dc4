"""Metadata and datasets of the SQL catalog beyond the conformance suite."""

from __future__ import annotations

import pytest

from dirac_core.errors import CatalogError
from dirac_core.plugins.catalog import FileEntry
from dirac_plugins_catalog.sql import SQLFileCatalog


@pytest.fixture
def filled(catalog: SQLFileCatalog) -> SQLFileCatalog:
    catalog.add_metadata_field("year", "int", for_files=False)
    catalog.add_metadata_field("kind", "string", for_files=True)
    catalog.add_files([FileEntry(lfn=f"/vo/y{y}/r{r}/f{i}", size=i + 1) for y in (2023, 2024)
                       for r in range(3) for i in range(4)]).raise_for_failures()
    catalog.set_metadata({"/vo/y2023": {"year": 2023}, "/vo/y2024": {"year": 2024}}).raise_for_failures()
    catalog.set_metadata({f"/vo/y{y}/r{r}/f{i}": {"kind": "raw" if i % 2 else "reco"}
                          for y in (2023, 2024) for r in range(3) for i in range(4)}).raise_for_failures()
    return catalog


def test_a_subtree_never_holds_two_values_of_a_field(filled: SQLFileCatalog) -> None:
    below = filled.set_metadata({"/vo": {"year": 2000}})
    assert "conflict" in str(below.failed["/vo"]).lower()
    same_call = filled.set_metadata({"/vo/y2023/r0": {"year": 1}, "/vo/y2023/r0/deeper": {"year": 2}})
    assert len(same_call.failed) == 2  # one clashes with /vo/y2023, the other does not exist
    filled.remove_metadata({"/vo/y2023": ["year"]}).raise_for_failures()
    twice = filled.set_metadata({"/vo/y2023/r0": {"year": 1}, "/vo/y2023/r1": {"year": 2},
                                 "/vo/y2023": {"year": 3}})
    assert set(twice.ok) == {"/vo/y2023/r0", "/vo/y2023/r1"}
    assert isinstance(twice.failed["/vo/y2023"], CatalogError)


def test_queries_combine_directory_and_file_terms(filled: SQLFileCatalog) -> None:
    found = filled.find_files({"year": 2024, "kind": "raw"})
    assert found == sorted(f"/vo/y2024/r{r}/f{i}" for r in range(3) for i in (1, 3))
    assert filled.find_files({"year": {">=": 2023}, "kind": "reco"}, "/vo/y2023/r1") == [
        "/vo/y2023/r1/f0", "/vo/y2023/r1/f2"]
    assert filled.find_files({"kind": "raw", "Size": {">": 3}}, "/") == [
        f"/vo/y{y}/r{r}/f3" for y in (2023, 2024) for r in range(3)]


def test_hidden_files_are_found_only_by_a_status_term(filled: SQLFileCatalog) -> None:
    filled.set_file_status({"/vo/y2024/r0/f1": "Trash"}).raise_for_failures()
    assert "/vo/y2024/r0/f1" not in filled.find_files({"year": 2024})
    assert filled.find_files({"Status": "Trash"}) == ["/vo/y2024/r0/f1"]
    assert filled.find_files({"Status": "Happy"}) == []


def test_owner_and_group_keys(filled: SQLFileCatalog) -> None:
    assert len(filled.find_files({"User": "root", "year": 2023})) == 12
    assert filled.find_files({"Owner": "nobody"}) == []
    assert len(filled.find_files({"Group": "Any", "year": 2023})) == 12


def test_metadata_of_the_root_and_of_files(filled: SQLFileCatalog) -> None:
    got = filled.get_metadata(["/", "/vo/y2023/r0/f1"]).ok
    assert got["/"] == {}
    assert got["/vo/y2023/r0/f1"] == {"year": 2023, "kind": "raw"}


def test_a_frozen_dataset_keeps_files_removed_later(filled: SQLFileCatalog) -> None:
    info = filled.add_dataset("/vo/sets/raw24", {"year": 2024, "kind": "raw"})
    assert info.files == 6
    frozen = filled.freeze_dataset("/vo/sets/raw24")
    filled.remove_files(["/vo/y2024/r0/f1"]).raise_for_failures()
    assert filled.dataset("/vo/sets/raw24") == frozen
    assert "/vo/y2024/r0/f1" in filled.dataset_files("/vo/sets/raw24")
    released = filled.freeze_dataset("/vo/sets/raw24", frozen=False)
    assert released.files == 5 and released.checksum != frozen.checksum
    # a dataset is content of its directory
    assert isinstance(filled.remove_directories(["/vo/sets"]).failed["/vo/sets"], CatalogError)
    filled.remove_dataset("/vo/sets/raw24")
    assert filled.remove_directories(["/vo/sets"]).all_ok


def test_dataset_queries_may_hold_dates(filled: SQLFileCatalog) -> None:
    from datetime import UTC, datetime

    when = datetime(2020, 1, 1, tzinfo=UTC)
    info = filled.add_dataset("/vo/sets/new", {"CreationDate": {">": when}, "year": 2023})
    assert info.files == 12
    assert filled.dataset("/vo/sets/new").query == {"CreationDate": {">": when.isoformat()}, "year": 2023}

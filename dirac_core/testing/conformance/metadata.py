"""Conformance suite for catalogs that also implement :class:`~dirac_core.plugins.metadata.MetadataCatalog`.

Subclass :class:`MetadataCatalogSuite` and provide a ``driver`` fixture
yielding an empty catalog implementing both
:class:`~dirac_core.plugins.catalog.Catalog` and ``MetadataCatalog``. The
semantics tested are DIRAC's (section 1.5 and 1.6 of the DMS reference):
typed declared fields in two namespaces, directory metadata inherited below,
the "Metadata conflict" rule, queries with every operator, wildcards on file
string fields, the standard file keys, and datasets.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dirac_core.dms.metaquery import QueryError
from dirac_core.errors import AlreadyExists, CatalogError, NotFound
from dirac_core.plugins.catalog import Catalog, FileEntry
from dirac_core.plugins.metadata import MetadataCatalog, MetadataField
from dirac_core.testing.conformance.base import ConformanceSuite

__all__ = ["MetadataCatalogSuite"]

A, B, C, D = "/vo/mc/z10/a", "/vo/mc/z20/b", "/vo/mc/z30/c", "/vo/other/d"


class _Both(Catalog, MetadataCatalog):
    """The type of the driver under test (for annotations only)."""


def populate(driver: _Both) -> None:
    """Three directories with metadata, four files with some, replicas on SE-A and SE-B.

    ``/vo/mc`` energy=1.5; ``z10`` zenith=10 particle=pion taken=2024-05-01;
    ``z20`` zenith=20 particle=muon; ``z30`` zenith=30. Files: ``a`` (size 10,
    tag run-1, run 1, SE-A), ``b`` (20, run-2, 2, SE-A SE-B), ``c`` (30, calib,
    SE-B), ``/vo/other/d`` (40, nothing, no replica).
    """
    for name, kind in (("zenith", "int"), ("energy", "float"), ("particle", "string"), ("taken", "date")):
        driver.add_metadata_field(name, kind, for_files=False)
    driver.add_metadata_field("tag", "string", for_files=True)
    driver.add_metadata_field("run", "int", for_files=True)
    files = [FileEntry(lfn=lfn, size=size, checksum=f"{size:08x}", guid=f"G-{size}")
             for lfn, size in ((A, 10), (B, 20), (C, 30), (D, 40))]
    driver.add_files(files).raise_for_failures()
    driver.add_replicas({A: ["SE-A"], B: ["SE-A", "SE-B"], C: ["SE-B"]}).raise_for_failures()
    driver.set_metadata({
        "/vo/mc": {"energy": 1.5},
        "/vo/mc/z10": {"zenith": 10, "particle": "pion", "taken": "2024-05-01"},
        "/vo/mc/z20": {"zenith": 20, "particle": "muon"},
        "/vo/mc/z30": {"zenith": 30},
        A: {"tag": "run-1", "run": 1},
        B: {"tag": "run-2", "run": 2},
        C: {"tag": "calib"},
    }).raise_for_failures()


#: (query, files found under /) on the catalog :func:`populate` fills
QUERIES: list[tuple[dict[str, Any], list[str]]] = [
    ({"zenith": 20}, [B]),
    ({"zenith": {"=": 20}}, [B]),
    ({"zenith": {"!=": 20}}, [A, C]),
    ({"zenith": {"<": 20}}, [A]),
    ({"zenith": {"<=": 20}}, [A, B]),
    ({"zenith": {">": 20}}, [C]),
    ({"zenith": {">=": 20}}, [B, C]),
    ({"zenith": [10, 30]}, [A, C]),
    ({"zenith": {"in": [10, 30]}}, [A, C]),
    ({"zenith": {"nin": [10, 30]}}, [B]),
    ({"zenith": {">": 10, "<": 30}}, [B]),
    ({"zenith": 99}, []),
    ({"energy": 1.5}, [A, B, C]),
    ({"energy": 1.5, "zenith": 10}, [A]),
    ({"particle": "Any"}, [A, B]),
    ({"particle": "Missing"}, [C, D]),
    ({"particle": "pi*"}, []),  # a directory field: no wildcard
    ({"taken": {"<": "2024-06-01T00:00:00+00:00"}}, [A]),
    ({"tag": "run-*"}, [A, B]),
    ({"tag": "r?n-1"}, [A]),
    ({"tag": {"!=": "calib"}}, [A, B]),
    ({"run": {">=": 2}}, [B]),
    ({"run": "Missing"}, [C, D]),
    ({"run": "Any"}, [A, B]),
    ({"zenith": {">=": 20}, "tag": "run-*"}, [B]),
    ({"particle": "pion", "Size": 10}, [A]),
    ({"Size": {">": 15}}, [B, C, D]),
    ({"Size": [10, 40]}, [A, D]),
    ({"SE": "SE-B"}, [B, C]),
    ({"SE": ["SE-A"]}, [A, B]),
    ({"SE": "SE-*"}, [A, B, C]),
    ({"Name": "a"}, [A]),
    ({"FileName": "?"}, [A, B, C, D]),
    ({"GUID": "G-20"}, [B]),
    ({"Checksum": "0000001e"}, [C]),
    ({"CreationDate": {">": "2000-01-01"}}, [A, B, C, D]),
]


class MetadataCatalogSuite(ConformanceSuite):
    """Tests every catalog with searchable metadata and datasets must pass."""

    @pytest.fixture
    def driver(self) -> MetadataCatalog:
        raise NotImplementedError("the driver's test module provides the driver fixture")

    # --- fields --------------------------------------------------------------------

    def test_declaring_fields(self, driver: _Both) -> None:
        field = driver.add_metadata_field("zenith", "int", for_files=False)
        assert field == MetadataField(name="zenith", type="int", for_files=False)
        assert driver.add_metadata_field("zenith", "int", for_files=False) == field
        driver.add_metadata_field("tag", "string", for_files=True)
        assert {(f.name, f.type, f.for_files) for f in driver.metadata_fields()} == {
            ("zenith", "int", False), ("tag", "string", True)}
        with pytest.raises(CatalogError):
            driver.add_metadata_field("zenith", "int", for_files=True)  # the other namespace
        with pytest.raises(CatalogError):
            driver.add_metadata_field("tag", "string", for_files=False)
        with pytest.raises(CatalogError):
            driver.add_metadata_field("zenith", "float", for_files=False)  # another type
        with pytest.raises(CatalogError):
            driver.add_metadata_field("Size", "int", for_files=True)  # a standard key
        assert len(driver.metadata_fields()) == 2

    # --- values --------------------------------------------------------------------

    def test_directory_metadata_is_inherited(self, driver: _Both) -> None:
        populate(driver)
        driver.create_directories(["/vo/mc/z10/deeper/still"]).raise_for_failures()
        got = driver.get_metadata(["/vo/mc/z10/deeper/still", "/vo/mc", "/vo/none"])
        assert got.ok["/vo/mc/z10/deeper/still"] == {
            "energy": 1.5, "zenith": 10, "particle": "pion", "taken": datetime(2024, 5, 1, tzinfo=UTC)}
        assert got.ok["/vo/mc"] == {"energy": 1.5}
        assert isinstance(got.failed["/vo/none"], NotFound)

    def test_a_file_sees_its_directory_metadata(self, driver: _Both) -> None:
        populate(driver)
        meta = driver.get_metadata([B, D]).ok
        assert meta[B] == {"energy": 1.5, "zenith": 20, "particle": "muon", "tag": "run-2", "run": 2}
        assert meta[D] == {}

    def test_values_are_typed_by_the_field(self, driver: _Both) -> None:
        populate(driver)
        driver.set_metadata({"/vo/mc/z30": {"particle": 7}, C: {"run": "3"}}).raise_for_failures()
        meta = driver.get_metadata([C]).ok[C]
        assert meta["particle"] == "7" and meta["run"] == 3 and type(meta["run"]) is int

    def test_metadata_conflict_with_an_ancestor(self, driver: _Both) -> None:
        populate(driver)
        refused = driver.set_metadata({"/vo/mc/z10": {"energy": 2.0}, "/vo/mc/z20": {"particle": "pion"}})
        assert "conflict" in str(refused.failed["/vo/mc/z10"]).lower()
        assert isinstance(refused.failed["/vo/mc/z10"], CatalogError)
        assert set(refused.ok) == {"/vo/mc/z20"}  # the directory's own value may change
        assert driver.get_metadata(["/vo/mc/z10"]).ok["/vo/mc/z10"]["energy"] == 1.5

    def test_bad_values_fail_their_item(self, driver: _Both) -> None:
        populate(driver)
        res = driver.set_metadata({
            "/vo/mc/z10": {"undeclared": 1},
            "/vo/mc/z20": {"tag": "x"},  # a file field on a directory
            A: {"zenith": 1},  # a directory field on a file
            B: {"run": "two"},
            "/vo/none": {"zenith": 1},
            C: {"run": 5},
        })
        assert set(res.ok) == {C}
        for path in ("/vo/mc/z10", "/vo/mc/z20", A, B):
            assert isinstance(res.failed[path], CatalogError), path
        assert isinstance(res.failed["/vo/none"], NotFound)
        assert driver.get_metadata([B]).ok[B]["run"] == 2

    def test_removing_metadata(self, driver: _Both) -> None:
        populate(driver)
        res = driver.remove_metadata({"/vo/mc/z10": ["particle", "never-set"], A: ["run"]})
        assert res.all_ok
        meta = driver.get_metadata([A]).ok[A]
        assert "particle" not in meta and "run" not in meta and meta["zenith"] == 10
        assert driver.find_files({"particle": "Any"}) == [B]

    def test_removing_with_a_name_instead_of_a_list_fails_that_item(self, driver: _Both) -> None:
        populate(driver)
        res = driver.remove_metadata({A: "run", B: ["run"]})
        assert isinstance(res.failed[A], CatalogError) and list(res.ok) == [B]
        assert driver.get_metadata([A]).ok[A]["run"] == 1  # a string is not the list of its letters

    def test_removed_paths_lose_their_metadata(self, driver: _Both) -> None:
        populate(driver)
        driver.remove_files([A]).raise_for_failures()
        driver.add_files([FileEntry(lfn=A, size=1)]).raise_for_failures()
        assert driver.get_metadata([A]).ok[A].get("tag") is None
        driver.create_directories(["/vo/tmp"]).raise_for_failures()
        driver.set_metadata({"/vo/tmp": {"zenith": 5}}).raise_for_failures()
        driver.remove_directories(["/vo/tmp"]).raise_for_failures()
        driver.create_directories(["/vo/tmp"]).raise_for_failures()
        assert driver.get_metadata(["/vo/tmp"]).ok["/vo/tmp"] == {}

    # --- queries -------------------------------------------------------------------

    @pytest.mark.parametrize(("query", "expected"), QUERIES, ids=[str(q) for q, _ in QUERIES])
    def test_find_files(self, driver: _Both, query: dict[str, Any], expected: list[str]) -> None:
        populate(driver)
        assert driver.find_files(query) == expected

    def test_find_files_under_a_path(self, driver: _Both) -> None:
        populate(driver)
        assert driver.find_files({"zenith": {">=": 10}}, "/vo/mc/z20") == [B]
        assert driver.find_files({"Size": {">": 0}}, "/vo/other") == [D]
        assert driver.find_files({"Size": {">": 0}}, "/vo/mc") == [A, B, C]
        assert driver.find_files({"Size": {">": 0}}, "/vo/nowhere") == []

    def test_query_errors_and_the_empty_query(self, driver: _Both) -> None:
        populate(driver)
        assert driver.find_files({}) == []
        with pytest.raises(QueryError, match="azimuth"):
            driver.find_files({"azimuth": 1})
        with pytest.raises(QueryError):
            driver.find_files({"zenith": "high"})
        with pytest.raises(QueryError, match="list of values"):
            driver.find_files({"zenith": {"<": [1, 2]}})

    # --- datasets ------------------------------------------------------------------

    def test_dataset_lifecycle(self, driver: _Both) -> None:
        populate(driver)
        query = {"zenith": {">=": 20}}
        info = driver.add_dataset("/vo/datasets/high", query)
        assert (info.name, info.path, info.frozen, info.files, info.size) == ("/vo/datasets/high", "/", False,
                                                                              2, 50)
        assert dict(info.query) == query
        with pytest.raises(AlreadyExists):
            driver.add_dataset("/vo/datasets/high", {"zenith": 10})
        assert driver.dataset_files("/vo/datasets/high") == [B, C]

        driver.add_files([FileEntry(lfn="/vo/mc/z20/e", size=5)]).raise_for_failures()
        grown = driver.dataset("/vo/datasets/high")
        assert (grown.files, grown.size) == (3, 55) and grown.checksum != info.checksum

        frozen = driver.freeze_dataset("/vo/datasets/high")
        assert frozen.frozen and frozen.files == 3 and frozen.checksum == grown.checksum
        driver.add_files([FileEntry(lfn="/vo/mc/z30/f", size=6)]).raise_for_failures()
        assert driver.dataset_files("/vo/datasets/high") == [B, "/vo/mc/z20/e", C]
        assert driver.dataset("/vo/datasets/high") == frozen
        assert driver.freeze_dataset("/vo/datasets/high") == frozen  # freezing again keeps the list

        released = driver.freeze_dataset("/vo/datasets/high", frozen=False)
        assert not released.frozen and (released.files, released.size) == (4, 61)
        assert driver.dataset_files("/vo/datasets/high")[-1] == "/vo/mc/z30/f"

        driver.remove_dataset("/vo/datasets/high")
        with pytest.raises(NotFound):
            driver.dataset("/vo/datasets/high")
        driver.remove_dataset("/vo/datasets/high")  # removed already: fine

    def test_dataset_with_a_path_and_bad_queries(self, driver: _Both) -> None:
        populate(driver)
        info = driver.add_dataset("/vo/datasets/other", {"Size": {">": 0}}, "/vo/other")
        assert (info.path, info.files, info.size) == ("/vo/other", 1, 40)
        with pytest.raises(QueryError):
            driver.add_dataset("/vo/datasets/bad", {"azimuth": 1})
        with pytest.raises(NotFound):
            driver.dataset("/vo/datasets/bad")

    def test_unknown_datasets(self, driver: _Both) -> None:
        with pytest.raises(NotFound):
            driver.dataset("/vo/datasets/none")
        with pytest.raises(NotFound):
            driver.dataset_files("/vo/datasets/none")
        with pytest.raises(NotFound):
            driver.freeze_dataset("/vo/datasets/none")

"""Conformance suite for :class:`~dirac_core.plugins.catalog.Catalog` drivers.

Subclass :class:`CatalogSuite` and provide a ``driver`` fixture yielding an
empty catalog. The per-item semantics tested here are DIRAC's.
"""

from __future__ import annotations

import pytest

from dirac_core.errors import CatalogError, NotFound
from dirac_core.plugins.catalog import Catalog, FileEntry
from dirac_core.testing.conformance.base import ConformanceSuite

__all__ = ["CatalogSuite"]

A = FileEntry(lfn="/vo/data/a", size=10, checksum="0000000a", guid="G-A")
B = FileEntry(lfn="/vo/data/b", size=20, checksum="00000014", guid="G-B")


class CatalogSuite(ConformanceSuite):
    """Tests every catalog driver must pass."""

    @pytest.fixture
    def driver(self) -> Catalog:
        raise NotImplementedError("the driver's test module provides the driver fixture")

    def test_add_and_get(self, driver: Catalog) -> None:
        assert driver.add_files([A, B]).all_ok
        got = driver.get_files([A.lfn, B.lfn, "/vo/data/none"])
        assert got.ok == {A.lfn: A, B.lfn: B}
        assert isinstance(got.failed["/vo/data/none"], NotFound)

    def test_identical_re_add_succeeds_different_fails(self, driver: Catalog) -> None:
        driver.add_files([A])
        assert driver.add_files([A]).all_ok
        res = driver.add_files([FileEntry(lfn=A.lfn, size=11, checksum=A.checksum, guid=A.guid)])
        assert isinstance(res.failed[A.lfn], CatalogError)
        assert driver.get_files([A.lfn]).ok[A.lfn] == A

    def test_replicas(self, driver: Catalog) -> None:
        driver.add_files([A])
        res = driver.add_replicas({A.lfn: ["SE-1", "SE-2"], "/vo/data/none": ["SE-1"]})
        assert set(res.ok) == {A.lfn}
        assert isinstance(res.failed["/vo/data/none"], NotFound)
        assert driver.get_replicas([A.lfn]).ok[A.lfn] == {"SE-1", "SE-2"}
        assert driver.remove_replicas({A.lfn: ["SE-1", "SE-9"]}).all_ok
        assert driver.get_replicas([A.lfn]).ok[A.lfn] == {"SE-2"}

    def test_remove_missing_file_succeeds(self, driver: Catalog) -> None:
        driver.add_files([A])
        res = driver.remove_files([A.lfn, "/vo/data/none"])
        assert res.all_ok and set(res.ok) == {A.lfn, "/vo/data/none"}
        assert isinstance(driver.get_files([A.lfn]).failed[A.lfn], NotFound)

    def test_directories_come_with_files_and_can_be_listed(self, driver: Catalog) -> None:
        driver.add_files([A, B])
        assert driver.exists(["/vo/data", A.lfn, "/vo/none"]).ok == {
            "/vo/data": "directory", A.lfn: "file", "/vo/none": None}
        listing = driver.list_directory(["/vo"]).ok["/vo"]
        assert listing.subdirectories == ("/vo/data",) and listing.files == ()
        assert driver.list_directory(["/vo/data"]).ok["/vo/data"].files == (A.lfn, B.lfn)
        assert isinstance(driver.list_directory(["/vo/none"]).failed["/vo/none"], NotFound)

    def test_directories_are_created_and_removed_when_empty(self, driver: Catalog) -> None:
        assert driver.create_directories(["/vo/x/y", "/vo/x/y"]).all_ok
        assert driver.exists(["/vo/x"]).ok["/vo/x"] == "directory"
        driver.add_files([FileEntry(lfn="/vo/x/y/f", size=1)])
        refused = driver.remove_directories(["/vo/x/y"])
        assert isinstance(refused.failed["/vo/x/y"], CatalogError)
        driver.remove_files(["/vo/x/y/f"])
        assert driver.remove_directories(["/vo/x/y", "/vo/never"]).all_ok
        assert driver.exists(["/vo/x/y"]).ok["/vo/x/y"] is None

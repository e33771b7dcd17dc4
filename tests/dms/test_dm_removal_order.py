"""Removing through the data manager: the catalog is asked first (it checks the caller), the copy
goes next, and a copy that cannot be deleted is registered again; bulk registration."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dms_helpers import grid

from dirac_core.config.resources import AccessStatus
from dirac_core.dms.manager import DataManager
from dirac_core.dms.storage_element import Access, SEUnavailable, StorageElements
from dirac_core.errors import BulkResult, CatalogError
from dirac_core.plugins import hookimpl, make_plugin_manager
from dirac_core.plugins.catalog import FileEntry
from dirac_core.testing.memory import MemoryCatalog

LFN = "/demo/user/a/alice/data.bin"


class _Refusing(MemoryCatalog):
    """A catalog that refuses to forget replicas (as one refuses a user without permission)."""

    def remove_replicas(self, replicas: Any) -> BulkResult[str, None]:
        return BulkResult(failed={lfn: CatalogError("permission denied", lfn=lfn) for lfn in replicas})


def test_a_catalog_refusal_keeps_every_copy(tmp_path: Path) -> None:
    source = tmp_path / "f"
    source.write_bytes(b"bytes")
    storage = StorageElements(grid())
    dm = DataManager(catalog=_Refusing(), storage=storage)
    dm.put_and_register(LFN, source, "SE-A")
    dm.replicate_and_register(LFN, "SE-B")
    assert "permission denied" in str(dm.remove_file([LFN]).failed[LFN])
    assert storage["SE-A"].exists(LFN) and storage["SE-B"].exists(LFN)


def test_a_copy_the_se_will_not_delete_stays_registered(tmp_path: Path) -> None:
    source = tmp_path / "f"
    source.write_bytes(b"bytes")
    refused = {("SE-B", Access.REMOVE)}
    storage = StorageElements(grid(), status=lambda se, access: AccessStatus.BANNED if (se, access) in refused
                              else AccessStatus.ACTIVE)
    catalog = MemoryCatalog()
    dm = DataManager(catalog=catalog, storage=storage)
    dm.put_and_register(LFN, source, "SE-A")
    dm.replicate_and_register(LFN, "SE-B")
    assert isinstance(dm.remove_file([LFN]).failed[LFN], SEUnavailable)
    assert catalog.get_replicas([LFN]).ok[LFN] == {"SE-B"}  # SE-A's copy went; SE-B's is still known
    assert storage["SE-B"].exists(LFN) and not storage["SE-A"].exists(LFN)


class _Registered:
    def __init__(self) -> None:
        self.lfns: list[str] = []

    @hookimpl
    def dirac_file_registered(self, lfns: list[str], metadata: dict[str, Any]) -> None:
        self.lfns.extend(lfns)


def test_register_files_registers_in_bulk_and_answers_per_file() -> None:
    catalog = MemoryCatalog()
    hooks = _Registered()
    dm = DataManager(catalog=catalog, storage=StorageElements(grid()),
                     hooks=make_plugin_manager([hooks], entry_points=False))
    catalog.add_files([FileEntry(lfn="/demo/b", size=9)]).raise_for_failures()
    result = dm.register_files([FileEntry(lfn="/demo/a", size=1, checksum="00000001"),
                                FileEntry(lfn="/demo/b", size=2)], ["SE-A", "SE-B"])
    assert list(result.ok) == ["/demo/a"] and "/demo/b" in result.failed
    assert catalog.get_replicas(["/demo/a"]).ok["/demo/a"] == {"SE-A", "SE-B"}
    assert hooks.lfns == ["/demo/a"]

"""The storage element facade and the data manager, over in-memory protocols and catalogs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from dms_helpers import grid

from dirac_core.checksums import adler32_file
from dirac_core.dms.manager import DataManager
from dirac_core.dms.storage_element import SEUnavailable, StorageElements
from dirac_core.errors import BulkResult, CatalogError, ChecksumMismatch, NotFound, StorageError
from dirac_core.model.lfn import InvalidLFN
from dirac_core.plugins import hookimpl, make_plugin_manager
from dirac_core.plugins.catalog import FileEntry
from dirac_core.testing.memory import MemoryCatalog

LFN = "/demo/user/a/alice/data.bin"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(bytes(range(256)) * 40)
    return path


class Recorder:
    """Hook implementations that remember their calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def dirac_file_registered(self, lfns: list[str], metadata: dict[str, Any]) -> None:
        self.calls.append(("registered", {"lfns": lfns, "metadata": metadata}))

    @hookimpl
    def dirac_transfer_done(self, lfns: list[str], source: str, target: str) -> None:
        self.calls.append(("transfer", {"lfns": lfns, "source": source, "target": target}))


def _manager(local_site: str | None = None, **kwargs: Any) -> tuple[DataManager, MemoryCatalog, Recorder]:
    recorder = Recorder()
    hooks = make_plugin_manager(())
    hooks.register(recorder)
    catalog = kwargs.pop("catalog", MemoryCatalog())
    storage = StorageElements(grid(), local_site=local_site)
    return DataManager(catalog=catalog, storage=storage, hooks=hooks, **kwargs), catalog, recorder


def test_put_register_get_and_the_hook(source: Path, tmp_path: Path) -> None:
    dm, catalog, recorder = _manager()
    stored = dm.put_and_register("LFN:" + LFN, source, "SE-A")
    assert stored.registered and stored.checksum == adler32_file(source)
    assert catalog.get_replicas([LFN]).ok[LFN] == {"SE-A"}
    assert catalog.get_files([LFN]).ok[LFN].size == source.stat().st_size
    assert dm.storage["SE-A"].url(LFN) == f"memory://SE-A{LFN}"
    got = dm.get_file(LFN, tmp_path / "out")
    assert got.read_bytes() == source.read_bytes()
    assert recorder.calls[0][0] == "registered" and recorder.calls[0][1]["lfns"] == [LFN]


def test_a_registration_failure_removes_the_copy_or_leaves_a_failover_record(source: Path) -> None:
    class Refusing(MemoryCatalog):
        def add_files(self, files: Any) -> BulkResult[str, None]:
            result: BulkResult[str, None] = BulkResult()
            for entry in files:
                result.add_failed(entry.lfn, CatalogError("catalog is read-only today"))
            return result

    dm, _, _ = _manager(catalog=Refusing())
    with pytest.raises(CatalogError, match="read-only"):
        dm.put_and_register(LFN, source, "SE-A")
    assert not dm.storage["SE-A"].exists(LFN)  # no orphan left on the SE
    records: list[tuple[str, str, dict[str, Any]]] = []

    def failover(operation: str, lfn: str, **arguments: Any) -> str:
        records.append((operation, lfn, arguments))
        return "req-1"

    dm, _, _ = _manager(catalog=Refusing(), failover=failover)
    stored = dm.put_and_register(LFN, source, "SE-A")
    assert (stored.registered, stored.failover) == (False, "req-1")
    assert records[0][0] == "RegisterFile" and records[0][2]["se"] == "SE-A"
    assert dm.storage["SE-A"].exists(LFN)  # kept: the request will register it


def test_replicas_are_read_local_site_first_and_bad_ones_skipped(source: Path, tmp_path: Path) -> None:
    dm, catalog, recorder = _manager(local_site="DIRAC.B.fr")
    dm.put_and_register(LFN, source, "SE-A")
    copied = dm.replicate_and_register(LFN, "SE-B")
    assert copied.registered and catalog.get_replicas([LFN]).ok[LFN] == {"SE-A", "SE-B"}
    assert recorder.calls[-1] == ("transfer", {"lfns": [LFN], "source": "SE-A", "target": "SE-B"})
    # corrupt the local (preferred) copy: the reader moves on to SE-A and says nothing is lost
    protocol = dm.storage["SE-B"]._protocols[0][1]
    protocol._files[LFN] = b"garbage"  # type: ignore[attr-defined]
    got = dm.get_file(LFN, tmp_path / "out")
    assert got.read_bytes() == source.read_bytes()
    protocol_a = dm.storage["SE-A"]._protocols[0][1]
    protocol_a._files[LFN] = b"garbage too"  # type: ignore[attr-defined]
    with pytest.raises(StorageError, match=r"no replica of .* could be read") as info:
        dm.get_file(LFN, tmp_path / "out2")
    assert "SE-B" in str(info.value) and "SE-A" in str(info.value)
    assert not (tmp_path / "out2" / "data.bin").exists()


def test_banned_ses_refuse_before_any_io_and_are_skipped_for_reads(source: Path, tmp_path: Path) -> None:
    dm, catalog, _ = _manager()
    with pytest.raises(SEUnavailable, match="SE-BANNED is Banned for write"):
        dm.put_and_register(LFN, source, "SE-BANNED")
    dm.put_and_register(LFN, source, "SE-A")
    catalog.add_replicas({LFN: ["SE-BANNED", "SE-UNKNOWN"]})
    got = dm.get_file(LFN, tmp_path / "out")
    assert got.read_bytes() == source.read_bytes()
    _, ordered, why = dm._replicas(LFN)
    assert ordered == ["SE-A"]
    assert any("SE-BANNED: Banned for read" in w for w in why)
    assert any("SE-UNKNOWN: not configured" in w for w in why)


def test_the_last_replica_is_refused_and_remove_file_removes_everything(source: Path) -> None:
    dm, catalog, _ = _manager()
    dm.put_and_register(LFN, source, "SE-A")
    with pytest.raises(CatalogError, match="last replica"):
        dm.remove_replica(LFN, "SE-A")
    dm.replicate_and_register(LFN, "SE-B")
    dm.remove_replica(LFN, "SE-A")
    assert not dm.storage["SE-A"].exists(LFN)
    assert catalog.get_replicas([LFN]).ok[LFN] == {"SE-B"}
    result = dm.remove_file([LFN, "/demo/never/was", "/demo/../etc/passwd"])
    assert set(result.ok) == {LFN, "/demo/never/was"}
    assert isinstance(result.failed["/demo/../etc/passwd"], InvalidLFN)
    assert not dm.storage["SE-B"].exists(LFN)
    assert isinstance(catalog.get_files([LFN]).failed[LFN], NotFound)


def test_a_checksum_mismatch_on_upload_keeps_nothing(source: Path) -> None:
    dm, catalog, _ = _manager()
    with pytest.raises(ChecksumMismatch):
        dm.storage["SE-A"].put(source, LFN, checksum="00000001")
    assert not dm.storage["SE-A"].exists(LFN)
    catalog.add_files([FileEntry(lfn=LFN, size=1, checksum="00000001")])
    assert isinstance(catalog.get_files([LFN]).ok[LFN], FileEntry)


def test_invalid_lfns_fail_before_any_io(source: Path) -> None:
    dm, _, _ = _manager()
    with pytest.raises(InvalidLFN):
        dm.put_and_register("relative/name", source, "SE-A")
    with pytest.raises(NotFound, match="no storage element 'SE-NOPE'"):
        dm.put_and_register(LFN, source, "SE-NOPE")

"""SE test transfers and free space decide the SEs' accesses; the data manager obeys them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rss_helpers import close_interware, make_interware, make_system, policy

from dirac_core.config.resources import AccessStatus
from dirac_core.db import Database
from dirac_core.dms.storage_element import Access, SEUnavailable
from dirac_core.errors import StorageError
from dirac_core.model import FakeClock
from dirac_core.model.resource_status import ResourceStatus
from dirac_core.plugins.storage import Occupancy
from dirac_core.rss import TransferTest
from dirac_plugins_se.file import FileStorage

R = ResourceStatus
TESTS = "[resource_status]\ntest_transfers = true\n" + policy("SETestTransfer", "StorageElement")


def _upload(tmp_path: Path, data: bytes = b"results") -> Path:
    source = tmp_path / "upload.dat"
    source.write_bytes(data)
    return source


def test_a_failing_test_transfer_bans_writes_and_the_data_manager_refuses(
        database: Database, fake_clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    iw = make_interware(database, fake_clock, tmp_path, TESTS)
    try:
        task = iw.scheduler.tasks["rss.test_transfers"]
        with monkeypatch.context() as patch:
            def refuse(self: FileStorage, source: Path, path: str) -> Any:
                raise StorageError("disk quota exceeded")
            patch.setattr(FileStorage, "put", refuse)
            assert task.run_once() == {"SE-A": False, "SE-B": False, "SE-BROKEN": False}
        tested = iw.status.store.tests()["SE-A"]
        assert (tested.write_ok, tested.read_ok, tested.remove_ok) == (False, None, None)
        assert tested.error == ("write: StorageError: storage element SE-A: every protocol failed for "
                                "/rss/test-transfers/SE-A: file: disk quota exceeded")
        assert iw.status.status_of("SE-A", "WriteAccess") is R.BANNED
        assert iw.status.status_of("SE-A", "ReadAccess") is R.UNKNOWN  # not tried: no opinion
        reason = iw.status.statuses(name="SE-A")[-1].reason
        assert reason == f"SETestTransfer: test write failed: {tested.error}"
        assert iw.storage["SE-A"].status(Access.WRITE) is AccessStatus.BANNED
        assert iw.storage["SE-A"].allows(Access.READ)
        dm = iw.data_manager(iw.identity("alice"))
        # the storage would take it now: the status refuses, before any I/O
        with pytest.raises(SEUnavailable, match="storage element SE-A is Banned for write"):
            dm.put_and_register("/demo/out/1.dat", _upload(tmp_path), "SE-A")
        assert not (tmp_path / "se-a" / "demo").exists()
        # the next test works: Probing (still refused), the one after: Active
        assert task.run_once() == {"SE-A": True, "SE-B": True, "SE-BROKEN": False}
        assert iw.status.status_of("SE-A", "WriteAccess") is R.PROBING
        with pytest.raises(SEUnavailable, match="is Probing for write"):
            dm.put_and_register("/demo/out/1.dat", _upload(tmp_path), "SE-A")
        task.run_once()
        assert iw.status.status_of("SE-A", "WriteAccess") is R.ACTIVE
        assert dm.put_and_register("/demo/out/1.dat", _upload(tmp_path), "SE-A").registered
        assert not [p for p in (tmp_path / "se-a" / "rss").rglob("*") if p.is_file()]  # no test file left
        # SE-BROKEN never wrote: banned for writes, reads not tried
        assert iw.status.status_of("SE-BROKEN", "WriteAccess") is R.BANNED
        assert iw.storage["SE-BROKEN"].allows(Access.READ)
        with pytest.raises(SEUnavailable):
            dm.put_and_register("/demo/out/2.dat", _upload(tmp_path), "SE-BROKEN")
    finally:
        close_interware(iw)


def test_a_failed_read_bans_reads_and_checks(database: Database, fake_clock: FakeClock, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    system = make_system(database, fake_clock, tmp_path, TESTS)

    def garbled(self: FileStorage, path: str, destination: Path) -> Any:
        raise StorageError("checksum mismatch")
    monkeypatch.setattr(FileStorage, "get", garbled)
    [test] = system.test_transfers(["SE-B"]).values()
    assert (test.write_ok, test.read_ok, test.remove_ok, test.ok) == (True, False, True, False)
    system.evaluate()
    assert {str(r.key.status_type): r.status for r in system.statuses(name="SE-B")} == {
        "ReadAccess": R.BANNED, "CheckAccess": R.BANNED, "WriteAccess": R.ACTIVE, "RemoveAccess": R.ACTIVE}
    fake_clock.advance(4 * 3600)  # older than max_age: no opinion (the status is kept, being Banned)
    report = system.evaluate(force=True)
    assert {e.reason for e in report.evaluated if e.key.name == "SE-B"} >= {
        "Banned moves to Probing before Unknown: "
        "SETestTransfer: last test transfer is old (2026-01-01 00:00 UTC)"}


class Space:
    """A stand-in for the SEs' occupancies."""

    def __init__(self, free: dict[str, int | None]) -> None:
        self.free = free

    def names(self) -> list[str]:
        return sorted(self.free)

    def __getitem__(self, name: str) -> Any:
        free = self.free[name]
        return type("SE", (), {"occupancy": lambda _: None if free is None else Occupancy(free=free)})()

    def close(self) -> None:
        """Nothing to release."""


def test_free_space(database: Database, fake_clock: FakeClock, tmp_path: Path) -> None:
    extra = policy("FreeSpace", "StorageElement", status_types=["WriteAccess"], parameters={"unit": "GB"})
    system = make_system(database, fake_clock, tmp_path, extra,
                         storage=Space({"SE-A": 50 * 10**9, "SE-B": 2 * 10**9, "SE-BROKEN": 10**6}))
    system.evaluate()
    assert [(r.key.name, r.status, r.reason) for r in system.statuses(element_type="StorageElement")] == [
        ("SE-A", R.ACTIVE, "FreeSpace: 50 GB free"),
        ("SE-B", R.DEGRADED, "FreeSpace: little free space: 2 GB free"),
        ("SE-BROKEN", R.BANNED, "FreeSpace: too little free space: 0.001 GB free"),
    ]
    system.storage.free["SE-A"] = None  # type: ignore[attr-defined]
    system.evaluate(force=True)
    assert system.status_of("SE-A", "WriteAccess") is R.UNKNOWN


def test_the_configured_access_is_a_floor(database: Database, fake_clock: FakeClock, tmp_path: Path) -> None:
    extra = '[resources.storage_elements.SE-C]\nname = "SE-C"\nwrite_access = "Banned"\n' + policy(
        "AlwaysActive", "StorageElement")
    iw = make_interware(database, fake_clock, tmp_path, extra)
    try:
        iw.status.evaluate()
        assert iw.status.status_of("SE-C", "WriteAccess") is R.ACTIVE
        assert iw.status.se_access("SE-C", Access.WRITE) is AccessStatus.BANNED  # the configured ban holds
        assert iw.status.se_access("SE-C", Access.READ) is AccessStatus.ACTIVE
        iw.status.set_status("SE-C", "Degraded", reason="slow", owner="admin", status_type="ReadAccess")
        iw.status.set_status("SE-A", "Error", reason="?", owner="admin", status_type="ReadAccess")
        assert iw.status.se_access("SE-C", Access.READ) is AccessStatus.DEGRADED
        assert iw.status.se_access("SE-A", Access.READ) is AccessStatus.BANNED
        assert iw.status.se_access("SE-B", Access.READ) is AccessStatus.ACTIVE
    finally:
        close_interware(iw)


def test_transfer_tests_are_kept_per_se(database: Database, fake_clock: FakeClock, tmp_path: Path) -> None:
    system = make_system(database, fake_clock, tmp_path, TESTS)
    tests = system.test_transfers()
    assert {se: t.ok for se, t in tests.items()} == {"SE-A": True, "SE-B": True, "SE-BROKEN": False}
    assert "write: " in tests["SE-BROKEN"].error
    kept = system.store.tests()
    assert set(kept) == {"SE-A", "SE-B", "SE-BROKEN"}
    assert isinstance(kept["SE-A"], TransferTest) and kept["SE-A"].checked == fake_clock.now()

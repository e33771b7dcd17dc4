"""replicate_and_register with third-party copy between file SEs, over the SQL catalog on every backend.

Between two ``file`` SEs the target's driver copies the source file itself (a copy between file
systems of this machine): no download into a scratch file, no upload. When that copy fails the
file goes by download and upload and the reason is kept; a copy that differs from the catalog
is removed and nothing is registered.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tpc_helpers import LFN, Transfers, data_manager

from dirac_core.checksums import adler32_file
from dirac_core.db import Database
from dirac_core.dms.manager import DataManager
from dirac_core.dms.transfer import TransferMethod
from dirac_core.errors import ChecksumMismatch, StorageError
from dirac_core.model.clock import FakeClock
from dirac_core.plugins import hookimpl
from dirac_core.plugins.storage import ThirdPartyCopy


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    path = tmp_path / "payload.bin"
    path.write_bytes(bytes(range(256)) * 1200)
    return path


def _file_se(folder: Path) -> list[dict[str, Any]]:
    return [{"type": "file", "path": str(folder)}]


@pytest.fixture
def dm(database: Database, fake_clock: FakeClock, tmp_path: Path) -> Iterator[tuple[DataManager, Transfers]]:
    ses = {"SE-A": _file_se(tmp_path / "a"), "SE-B": _file_se(tmp_path / "b"), "SE-MEM": [{"type": "memory"}]}
    with data_manager(database, fake_clock, ses) as made:
        yield made


def _refuse(*args: object) -> None:
    raise AssertionError("the file went through a download or an upload")


def test_file_to_file_is_copied_in_place_not_through_a_scratch_file(
        dm: tuple[DataManager, Transfers], payload: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    manager, transfers = dm
    manager.put_and_register(LFN, payload, "SE-A")
    monkeypatch.setattr(manager.storage["SE-A"], "get", _refuse)
    monkeypatch.setattr(manager.storage["SE-B"], "put", _refuse)
    stored = manager.replicate_and_register(LFN, "SE-B")
    assert (stored.method, stored.tpc_error, stored.registered) == (TransferMethod.THIRD_PARTY, None, True)
    assert (stored.size, stored.checksum) == (payload.stat().st_size, adler32_file(payload))
    assert manager.catalog.get_replicas([LFN]).ok[LFN] == {"SE-A", "SE-B"}
    assert (tmp_path / "b" / LFN.lstrip("/")).read_bytes() == payload.read_bytes()
    assert transfers.calls == [([LFN], "SE-A", "SE-B", True)]


def test_a_failed_copy_falls_back_to_download_and_upload_and_says_why(
        dm: tuple[DataManager, Transfers], payload: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    manager, transfers = dm
    manager.put_and_register(LFN, payload, "SE-A")
    [(_, target)] = manager.storage["SE-B"]._protocols
    assert isinstance(target, ThirdPartyCopy)

    def refuse(source_url: str, path: str) -> None:
        raise StorageError(f"copies into {path} are refused by policy", url=source_url)

    monkeypatch.setattr(target, "copy_from", refuse)
    with caplog.at_level(logging.WARNING, logger="dirac_core.dms"):
        stored = manager.replicate_and_register(LFN, "SE-B")
    assert stored.method is TransferMethod.DOWNLOAD_UPLOAD and stored.registered
    assert stored.tpc_error is not None and "refused by policy" in stored.tpc_error
    assert any("third-party copy from SE-A to SE-B failed" in r.getMessage() and "refused by policy"
               in r.getMessage() for r in caplog.records)
    assert (tmp_path / "b" / LFN.lstrip("/")).read_bytes() == payload.read_bytes()
    assert manager.catalog.get_replicas([LFN]).ok[LFN] == {"SE-A", "SE-B"}
    assert transfers.calls == [([LFN], "SE-A", "SE-B", False)]


def test_a_copy_that_differs_from_the_catalog_is_removed_and_not_registered(
        dm: tuple[DataManager, Transfers], payload: Path, tmp_path: Path) -> None:
    manager, transfers = dm
    manager.put_and_register(LFN, payload, "SE-A")
    source = tmp_path / "a" / LFN.lstrip("/")
    with source.open("r+b") as fh:  # rot at the source, behind the catalog's back
        fh.seek(100)
        fh.write(b"\xff\xfe")
    with pytest.raises(ChecksumMismatch) as caught:
        manager.replicate_and_register(LFN, "SE-B")
    assert (caught.value.expected, caught.value.se) == (adler32_file(payload), "SE-B")
    assert caught.value.actual == adler32_file(source)
    assert not manager.storage["SE-B"].exists(LFN)
    assert [p for p in (tmp_path / "b").rglob("*") if p.is_file()] == []  # no partial file either
    assert manager.catalog.get_replicas([LFN]).ok[LFN] == {"SE-A"}
    assert transfers.calls == []


def test_a_target_that_cannot_copy_downloads_and_uploads_and_old_hooks_still_run(
        database: Database, fake_clock: FakeClock, tmp_path: Path, payload: Path) -> None:
    seen: list[tuple[str, str]] = []

    class OldHook:  # written before the hook had a third_party argument
        @hookimpl
        def dirac_transfer_done(self, lfns: list[str], source: str, target: str) -> None:
            seen.append((source, target))

    ses = {"SE-A": _file_se(tmp_path / "a"), "SE-MEM": [{"type": "memory"}]}
    with data_manager(database, fake_clock, ses, hooks=[OldHook()]) as (manager, transfers):
        manager.put_and_register(LFN, payload, "SE-A")
        stored = manager.replicate_and_register(LFN, "SE-MEM")
        assert (stored.method, stored.tpc_error) == (TransferMethod.DOWNLOAD_UPLOAD, None)
        assert transfers.calls == [([LFN], "SE-A", "SE-MEM", False)]
        assert seen == [("SE-A", "SE-MEM")]
        again = manager.replicate_and_register(LFN, "SE-MEM")  # there already: nothing copied
        assert (again.method, again.registered, len(transfers.calls)) == (None, True, 1)


def test_the_source_is_chosen_as_before_local_site_first(database: Database, fake_clock: FakeClock,
                                                       tmp_path: Path, payload: Path) -> None:
    ses = {name: _file_se(tmp_path / name) for name in ("SE-A", "SE-B", "SE-C")}
    sites = {"DIRAC.A.ch": ["SE-A", "SE-C"], "DIRAC.B.fr": ["SE-B"]}
    local = "DIRAC.B.fr"
    with data_manager(database, fake_clock, ses, sites=sites, local_site=local) as (manager, transfers):
        manager.put_and_register(LFN, payload, "SE-A")
        manager.replicate_and_register(LFN, "SE-B")
        stored = manager.replicate_and_register(LFN, "SE-C")
        assert stored.method is TransferMethod.THIRD_PARTY
        assert transfers.calls[-1] == ([LFN], "SE-B", "SE-C", True)  # this site's replica first
        manager.remove_replica(LFN, "SE-C")
        manager.replicate_and_register(LFN, "SE-C", source_se="SE-A")
        assert transfers.calls[-1] == ([LFN], "SE-A", "SE-C", True)


def test_a_replica_gone_behind_the_catalogs_back_is_skipped(dm: tuple[DataManager, Transfers],
                                                          payload: Path, tmp_path: Path) -> None:
    manager, transfers = dm
    manager.put_and_register(LFN, payload, "SE-A")
    manager.replicate_and_register(LFN, "SE-MEM")
    (tmp_path / "a" / LFN.lstrip("/")).unlink()
    # SE-A comes first: its copy and its download find nothing; the memory SE's replica is
    # downloaded and uploaded (a file SE cannot copy from a memory URL)
    stored = manager.replicate_and_register(LFN, "SE-B")
    assert stored.method is TransferMethod.DOWNLOAD_UPLOAD
    assert stored.tpc_error is not None and stored.tpc_error.startswith("third-party copy from SE-A: no file")
    assert transfers.calls[-1] == ([LFN], "SE-MEM", "SE-B", False)
    assert (tmp_path / "b" / LFN.lstrip("/")).read_bytes() == payload.read_bytes()
    manager.storage["SE-MEM"].remove(LFN)
    manager.remove_replica(LFN, "SE-B")
    (tmp_path / "b" / LFN.lstrip("/")).unlink(missing_ok=True)
    with pytest.raises(StorageError, match="no source replica") as caught:
        manager.replicate_and_register(LFN, "SE-B")
    assert "SE-A" in str(caught.value) and "SE-MEM" in str(caught.value)
    assert not manager.storage["SE-B"].exists(LFN)


def test_two_ses_on_one_folder_are_not_copied_onto_themselves(database: Database, fake_clock: FakeClock,
                                                              tmp_path: Path, payload: Path) -> None:
    ses = {"SE-A": _file_se(tmp_path / "same"), "SE-A-ALIAS": _file_se(tmp_path / "same")}
    with data_manager(database, fake_clock, ses) as (manager, transfers):
        manager.put_and_register(LFN, payload, "SE-A")
        stored = manager.replicate_and_register(LFN, "SE-A-ALIAS")
        assert stored.method is TransferMethod.DOWNLOAD_UPLOAD
        assert stored.tpc_error is not None and "the source is the target itself" in stored.tpc_error
        assert (tmp_path / "same" / LFN.lstrip("/")).read_bytes() == payload.read_bytes()
        assert transfers.calls == [([LFN], "SE-A", "SE-A-ALIAS", False)]

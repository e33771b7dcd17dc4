"""Each built-in operation handler, run by the executor against file SEs and the SQL catalog."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from rms_helpers import close_interware, make_interware, op, put, request, stored, submit

from dirac_core.checksums import adler32_bytes
from dirac_core.db import Database
from dirac_core.dms.filecatalog import FileCatalog
from dirac_core.errors import BulkResult, CatalogError, NotFound
from dirac_core.interware import Interware
from dirac_core.model import FakeClock
from dirac_core.model.request import OperationStatus as O
from dirac_core.model.request import RequestFileStatus as F
from dirac_core.model.request import RequestStatus as R
from dirac_core.plugins import hookimpl
from dirac_core.plugins.catalog import FileEntry
from dirac_core.rms import Operation, RequestFile

LFN = "/demo/user/a/alice/data/f1.dat"
LFN2 = "/demo/user/a/alice/data/f2.dat"


@pytest.fixture
def iw(database: Database, fake_clock: FakeClock, tmp_path: Path) -> Iterator[Interware]:
    interware = make_interware(database, fake_clock, tmp_path)
    yield interware
    close_interware(interware)


def _replicas(iw: Interware, lfn: str) -> set[str]:
    assert iw.catalog is not None
    return set(iw.catalog.get_replicas([lfn]).ok.get(lfn, ()))


def _fail_once(monkeypatch: pytest.MonkeyPatch, method: str) -> list[str]:
    """Make ``FileCatalog.<method>`` refuse its first call (the catalog down); the calls made."""
    calls: list[str] = []
    original = getattr(FileCatalog, method)

    def flaky(self: FileCatalog, items: Any) -> BulkResult[str, None]:
        calls.append(method)
        if len(calls) == 1:
            raise CatalogError("catalog down for maintenance")
        result: BulkResult[str, None] = original(self, items)
        return result

    monkeypatch.setattr(FileCatalog, method, flaky)
    return calls


# -- ReplicateAndRegister -----------------------------------------------------------------


def test_replicate_copies_to_every_target_and_leaves_files_already_there(iw: Interware,
                                                                         tmp_path: Path) -> None:
    put(iw, tmp_path, LFN, "Embedded-SE", b"one")
    put(iw, tmp_path, LFN2, "Embedded-SE", b"two")
    iw.data_manager(iw.identity("alice")).replicate_and_register(LFN2, "Embedded-SE2")
    iw.data_manager(iw.identity("alice")).replicate_and_register(LFN2, "SE-C")
    [rid] = submit(iw, request(op("ReplicateAndRegister", [LFN, LFN2], target_se=["Embedded-SE2", "SE-C"])))
    report = iw.request_executor.run_once()
    assert report.finished == {rid: R.DONE}
    assert _replicas(iw, LFN) == {"Embedded-SE", "Embedded-SE2", "SE-C"}
    assert iw.storage["SE-C"].exists(LFN) and iw.storage["Embedded-SE2"].exists(LFN)
    files = stored(iw, rid).operations[0].files
    assert [(f.status, f.attempt) for f in files] == [(F.DONE, 1), (F.DONE, 1)]


def test_replicate_fails_a_file_missing_from_the_catalog_and_runs_the_rest(iw: Interware,
                                                                           tmp_path: Path) -> None:
    put(iw, tmp_path, LFN, "Embedded-SE")
    [rid] = submit(iw, request(op("ReplicateAndRegister", [LFN, "/demo/user/a/alice/never.dat"],
                                  target_se=["Embedded-SE2"])))
    assert iw.request_executor.run_once().finished == {rid: R.FAILED}
    ok, missing = stored(iw, rid).operations[0].files
    assert ok.status is F.DONE and _replicas(iw, LFN) == {"Embedded-SE", "Embedded-SE2"}
    assert missing.status is F.FAILED and "not in the catalog" in missing.error
    assert "not in the catalog" in stored(iw, rid).error


def test_a_registration_refused_after_a_copy_becomes_a_register_replica_after_the_current_operation(
        iw: Interware, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    put(iw, tmp_path, LFN, "Embedded-SE")
    calls = _fail_once(monkeypatch, "add_replicas")
    [rid] = submit(iw, request(op("ReplicateAndRegister", [LFN], target_se=["Embedded-SE2"]),
                               op("RemoveReplica", [LFN], target_se=["Embedded-SE"])))
    assert iw.request_executor.run_once().finished == {rid: R.DONE}
    done = stored(iw, rid)
    assert [(o.type, o.target_se, o.status) for o in done.operations] == [
        ("ReplicateAndRegister", ("Embedded-SE2",), O.DONE),
        ("RegisterReplica", ("Embedded-SE2",), O.DONE),  # inserted, then run in the same cycle
        ("RemoveReplica", ("Embedded-SE",), O.DONE)]
    assert calls == ["add_replicas", "add_replicas"]
    assert _replicas(iw, LFN) == {"Embedded-SE2"}
    assert iw.storage["Embedded-SE2"].exists(LFN) and not iw.storage["Embedded-SE"].exists(LFN)


# -- PutAndRegister -----------------------------------------------------------------------


def test_put_and_register_uploads_local_files_and_fails_missing_ones(iw: Interware, tmp_path: Path) -> None:
    local = tmp_path / "local.dat"
    local.write_bytes(b"local bytes")
    files = [RequestFile(lfn=LFN, pfn=str(local)), RequestFile(lfn=LFN2, pfn=str(tmp_path / "gone.dat"))]
    [rid] = submit(iw, request(Operation(type="PutAndRegister", target_se=["SE-C"], files=files)))
    iw.request_executor.run_once()
    uploaded, missing = stored(iw, rid).operations[0].files
    assert uploaded.status is F.DONE and _replicas(iw, LFN) == {"SE-C"}
    assert missing.status is F.FAILED and "no local file" in missing.error
    wrong = RequestFile(lfn="/demo/user/a/alice/data/f3.dat", pfn=str(local), checksum="00000001",
                        checksum_type="ADLER32")
    [rid] = submit(iw, request(Operation(type="PutAndRegister", target_se=["SE-C"], files=[wrong])))
    iw.request_executor.run_once()
    assert "has adler32" in stored(iw, rid).operations[0].files[0].error


def test_an_upload_whose_registration_fails_is_registered_by_an_inserted_register_file(
        iw: Interware, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    local = tmp_path / "local.dat"
    local.write_bytes(b"local bytes")
    _fail_once(monkeypatch, "add_files")
    [rid] = submit(iw, request(Operation(type="PutAndRegister", target_se=["SE-C"],
                                         files=[RequestFile(lfn=LFN, pfn=str(local))])))
    assert iw.request_executor.run_once().finished == {rid: R.DONE}
    assert [(o.type, o.status) for o in stored(iw, rid).operations] == [
        ("PutAndRegister", O.DONE), ("RegisterFile", O.DONE)]
    assert _replicas(iw, LFN) == {"SE-C"}
    assert iw.catalog is not None
    assert iw.catalog.get_files([LFN]).ok[LFN].checksum == adler32_bytes(b"local bytes")


# -- RegisterFile, RegisterReplica ----------------------------------------------------------


def _on_storage(iw: Interware, tmp_path: Path, lfn: str, se: str, data: bytes) -> RequestFile:
    source = tmp_path / "raw.tmp"
    source.write_bytes(data)
    iw.storage[se].put(source, lfn)
    return RequestFile(lfn=lfn, size=len(data), checksum=adler32_bytes(data), checksum_type="AD",
                       guid=str(uuid.uuid4()))


def test_register_file_registers_what_is_on_storage_and_fails_a_conflict(iw: Interware,
                                                                         tmp_path: Path) -> None:
    first = _on_storage(iw, tmp_path, LFN, "SE-C", b"first")
    clash = _on_storage(iw, tmp_path, LFN2, "SE-C", b"second")
    assert iw.catalog is not None
    alice = iw.catalog.acting_as(iw.identity("alice"))
    alice.add_files([FileEntry(lfn=LFN2, size=99, checksum="0badf00d")]).raise_for_failures()
    [rid] = submit(iw, request(Operation(type="RegisterFile", target_se=["SE-C"], files=[first, clash])))
    assert iw.request_executor.run_once().finished == {rid: R.FAILED}
    good, bad = stored(iw, rid).operations[0].files
    assert good.status is F.DONE and _replicas(iw, LFN) == {"SE-C"}
    entry = iw.catalog.get_files([LFN]).ok[LFN]
    assert (entry.size, entry.checksum, entry.guid) == (5, first.checksum, first.guid)
    assert bad.status is F.FAILED and "already registered" in bad.error
    again = RequestFile(lfn=LFN, size=first.size, checksum=first.checksum, checksum_type="AD",
                        guid=first.guid)
    [rid] = submit(iw, request(Operation(type="RegisterFile", target_se=["SE-C"], files=[again])))
    assert iw.request_executor.run_once().finished == {rid: R.DONE}  # identical: registered already


def test_register_replica_adds_the_replica_or_judges_a_file_no_catalog_knows(
        iw: Interware, tmp_path: Path) -> None:
    put(iw, tmp_path, LFN, "Embedded-SE", b"same")
    _on_storage(iw, tmp_path, LFN, "SE-C", b"same")
    _on_storage(iw, tmp_path, "/demo/user/a/alice/data/orphan.dat", "SE-C", b"orphan")
    lfns = [LFN, "/demo/user/a/alice/data/orphan.dat", "/demo/user/a/alice/data/nowhere.dat"]
    [rid] = submit(iw, request(op("RegisterReplica", lfns, target_se=["SE-C"])))
    iw.request_executor.run_once()
    registered, orphan, nowhere = stored(iw, rid).operations[0].files
    assert registered.status is F.DONE and _replicas(iw, LFN) == {"Embedded-SE", "SE-C"}
    assert orphan.status is F.FAILED and "not in the catalog but SE-C holds it" in orphan.error
    assert nowhere.status is F.DONE


# -- RemoveFile, RemoveReplica ----------------------------------------------------------------


def test_remove_file_removes_every_replica_and_a_missing_file_is_done(iw: Interware, tmp_path: Path) -> None:
    put(iw, tmp_path, LFN, "Embedded-SE")
    iw.data_manager(iw.identity("alice")).replicate_and_register(LFN, "SE-C")
    [rid] = submit(iw, request(op("RemoveFile", [LFN, "/demo/user/a/alice/data/never.dat"])))
    assert iw.request_executor.run_once().finished == {rid: R.DONE}
    assert iw.catalog is not None
    assert isinstance(iw.catalog.get_files([LFN]).failed[LFN], NotFound)
    assert not iw.storage["Embedded-SE"].exists(LFN) and not iw.storage["SE-C"].exists(LFN)


def test_remove_replica_keeps_the_last_replica_and_says_why(iw: Interware, tmp_path: Path) -> None:
    put(iw, tmp_path, LFN, "Embedded-SE")
    iw.data_manager(iw.identity("alice")).replicate_and_register(LFN, "SE-C")
    put(iw, tmp_path, LFN2, "Embedded-SE")
    [rid] = submit(iw, request(op("RemoveReplica", [LFN, LFN2, "/demo/user/a/alice/data/never.dat"],
                                  target_se=["Embedded-SE"])))
    assert iw.request_executor.run_once().finished == {rid: R.FAILED}
    removed, last, missing = stored(iw, rid).operations[0].files
    assert removed.status is F.DONE and _replicas(iw, LFN) == {"SE-C"}
    assert not iw.storage["Embedded-SE"].exists(LFN)
    assert last.status is F.FAILED and "last replica" in last.error and _replicas(iw, LFN2) == {"Embedded-SE"}
    assert missing.status is F.DONE


def test_remove_file_of_a_user_who_may_not_fails_with_the_catalogs_refusal(
        iw: Interware, tmp_path: Path) -> None:
    put(iw, tmp_path, LFN, "Embedded-SE")
    [rid] = submit(iw, request(op("RemoveFile", [LFN]), owner="pilot", group="demo_pilot"))
    assert iw.request_executor.run_once().finished == {rid: R.FAILED}
    [file] = stored(iw, rid).operations[0].files
    assert file.status is F.FAILED and "ermission" in file.error
    assert _replicas(iw, LFN) == {"Embedded-SE"}
    assert iw.storage["Embedded-SE"].exists(LFN)  # the catalog refused before the copy went


# -- SetFileStatus ------------------------------------------------------------------------------


class _Transformations:
    def __init__(self, error: Exception | None = None, refused: Sequence[str] = ()) -> None:
        self.calls: list[tuple[int | str, dict[str, str], bool]] = []
        self.error = error
        self.refused = refused

    def set_file_status(self, transformation: int | str, statuses: Mapping[str, str], *,
                        force: bool = False) -> BulkResult[str, str]:
        self.calls.append((transformation, dict(statuses), force))
        if self.error is not None:
            raise self.error
        return BulkResult(ok={lfn: s for lfn, s in statuses.items() if lfn not in self.refused},
                          failed={lfn: NotFound(f"{lfn} is not a file of it") for lfn in self.refused})


def _set_file_status() -> Operation:
    return Operation(type="SetFileStatus", arguments={"transformation": 7, "statuses": {LFN: "Processed"},
                                                      "force": True})


def test_set_file_status_without_a_transformation_system_fails_saying_so(iw: Interware) -> None:
    assert iw.request_executor.services.pop("transformations") is iw.transformations  # the interware's
    [rid] = submit(iw, request(_set_file_status()))
    assert iw.request_executor.run_once().finished == {rid: R.FAILED}
    assert "no transformation system" in stored(iw, rid).operations[0].error


def test_set_file_status_calls_the_transformation_system(iw: Interware, fake_clock: FakeClock) -> None:
    service = _Transformations(CatalogError("transformation database unreachable"))
    iw.request_executor.services["transformations"] = service
    [rid] = submit(iw, request(_set_file_status()))
    assert iw.request_executor.run_once().finished == {rid: R.WAITING}  # an outage: again later
    assert "unreachable" in stored(iw, rid).operations[0].error
    service.error = None
    assert iw.request_executor.run_once().finished == {rid: R.DONE}
    assert service.calls == [(7, {LFN: "Processed"}, True)] * 2
    refused = _Transformations(NotFound("no transformation 7"))
    iw.request_executor.services["transformations"] = refused
    [rid] = submit(iw, request(_set_file_status(), name="again"))
    assert iw.request_executor.run_once().finished == {rid: R.FAILED}
    iw.request_executor.services["transformations"] = _Transformations(refused=[LFN])
    [rid] = submit(iw, request(_set_file_status(), name="not its file"))
    assert iw.request_executor.run_once().finished == {rid: R.FAILED}
    assert "is not a file of it" in stored(iw, rid).operations[0].error


# -- CallHook ------------------------------------------------------------------------------------


class _Plugin:
    def __init__(self, answers: Sequence[object]) -> None:
        self.answers = list(answers)
        self.seen: list[dict[str, Any]] = []

    @hookimpl
    def dirac_request_operation(self, request: Any, operation: Operation) -> bool | None:
        self.seen.append(dict(operation.arguments))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer  # type: ignore[return-value]


def test_call_hook_retries_until_a_plugin_says_done(database: Database, fake_clock: FakeClock,
                                                    tmp_path: Path) -> None:
    plugin = _Plugin([False, RuntimeError("broker away"), True])
    iw = make_interware(database, fake_clock, tmp_path, plugins=[plugin])
    try:
        [rid] = submit(iw, request(Operation(type="CallHook", arguments={"notify": "run 42"})))
        assert iw.request_executor.run_once().finished == {rid: R.WAITING}
        assert iw.request_executor.run_once().finished == {rid: R.WAITING}
        assert "broker away" in stored(iw, rid).operations[0].error
        assert iw.request_executor.run_once().finished == {rid: R.DONE}
        assert plugin.seen == [{"notify": "run 42"}] * 3
    finally:
        close_interware(iw)


def test_call_hook_nobody_takes_stays_waiting_and_says_so(iw: Interware) -> None:
    [rid] = submit(iw, request(Operation(type="CallHook", arguments={"x": 1})))
    assert iw.request_executor.run_once().finished == {rid: R.WAITING}
    assert "no dirac_request_operation implementation" in stored(iw, rid).operations[0].error

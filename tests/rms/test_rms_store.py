"""The request store on every backend: submit, read back whole, pick, put back with back-off,
cancel, stuck requests, cleaning."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dirac_core.db import Database
from dirac_core.errors import InvalidRequest, InvalidTransition, NotFound
from dirac_core.model import FakeClock
from dirac_core.model.request import OperationStatus as O
from dirac_core.model.request import RequestFileStatus as F
from dirac_core.model.request import RequestStatus as R
from dirac_core.rms import Operation, Request, RequestFile, RequestStore


@pytest.fixture
def store(database: Database, fake_clock: FakeClock) -> RequestStore:
    return RequestStore(database=database, clock=fake_clock)


def _request(name: str = "r", *, lfns: tuple[str, ...] = ("/demo/a", "/demo/b"), job_id: int | None = None,
             ) -> Request:
    return Request(name=name, owner="alice", owner_group="demo_user", vo="demo", job_id=job_id,
                   source="test", operations=[
                       Operation(type="ReplicateAndRegister", target_se=["SE-A", "SE-B"], source_se=["SE-F"],
                                 arguments={"why": "failover"},
                                 files=[RequestFile(lfn=lfn, size=3, checksum="0a0b0c0d", checksum_type="AD",
                                                    guid="6f1c1a4e-2b1c-4c36-9a8e-16f1b0a5d001")
                                        for lfn in lfns]),
                       Operation(type="RemoveReplica", target_se=["SE-F"],
                                 files=[RequestFile(lfn=lfn) for lfn in lfns])])


def test_a_request_comes_back_whole_with_its_rolled_up_statuses(store: RequestStore) -> None:
    result = store.submit([_request(job_id=7)])
    request_id = result.ok[0]
    back = store.get([request_id, 999_999])
    assert isinstance(back.failed[999_999], NotFound)
    request = back.ok[request_id]
    assert (request.name, request.owner, request.owner_group, request.vo, request.job_id, request.source) == (
        "r", "alice", "demo_user", "demo", 7, "test")
    assert request.status is R.WAITING
    first, second = request.operations
    assert (first.type, first.status, first.target_se, first.source_se, first.arguments) == (
        "ReplicateAndRegister", O.WAITING, ("SE-A", "SE-B"), ("SE-F",), {"why": "failover"})
    assert second.status is O.QUEUED
    assert [(f.lfn, f.size, f.checksum, f.checksum_type, f.status) for f in first.files] == [
        ("/demo/a", 3, "0a0b0c0d", "ADLER32", F.WAITING), ("/demo/b", 3, "0a0b0c0d", "ADLER32", F.WAITING)]
    assert first.files[0].guid == "6f1c1a4e-2b1c-4c36-9a8e-16f1b0a5d001"
    assert store.for_jobs([7, 8]) == {7: [request_id]}
    assert store.status([request_id]) == {request_id: R.WAITING}


def test_invalid_requests_are_refused_one_by_one_and_the_others_stored(store: RequestStore) -> None:
    bad = _request("bad")
    bad.operations[0].target_se = ()
    result = store.submit([_request("good"), bad])
    assert list(result.ok) == [0]
    assert isinstance(result.failed[1], InvalidRequest) and "target_se" in str(result.failed[1])
    assert store.counts() == {R.WAITING: 1}
    again = store.get([result.ok[0]]).ok[result.ok[0]]
    assert isinstance(store.submit([again]).failed[0], InvalidRequest)  # stored already


def test_the_executor_picks_due_requests_once_and_puts_them_back_with_back_off(
        store: RequestStore, fake_clock: FakeClock) -> None:
    ids = store.submit([_request("one"), _request("two")]).ok
    picked = store.pick(10)
    assert [r.request_id for r in picked] == [ids[0], ids[1]]
    assert all(r.status is R.ASSIGNED for r in store.get(ids.values()).ok.values())
    assert store.pick(10) == []  # nobody takes an Assigned request
    request = picked[0]
    first = request.operations[0]
    first.files[0].set_status(F.DONE)
    first.files[1].attempt = 5
    first.files[1].set_status(F.WAITING, "SE-A: connection refused")
    assert store.put_back(request) is R.WAITING
    stored = store.get([request.request_id]).ok[request.request_id]  # type: ignore[list-item]
    assert [(f.status, f.attempt, f.error) for f in stored.operations[0].files] == [
        (F.DONE, 0, ""), (F.WAITING, 5, "SE-A: connection refused")]
    assert stored.not_before is not None
    delay = stored.not_before - fake_clock.now()
    assert timedelta(minutes=3.2) < delay < timedelta(minutes=3.3)  # 2 ln 5 minutes
    assert store.pick(10) == []
    fake_clock.advance(timedelta(minutes=4))
    again = store.pick(10)
    assert [r.request_id for r in again] == [request.request_id]
    for op in again[0].operations:
        for f in op.files:
            f.set_status(F.DONE)
    assert store.put_back(again[0]) is R.DONE
    assert store.status([request.request_id]) == {request.request_id: R.DONE}


def test_operations_added_by_a_handler_are_stored_in_order(store: RequestStore) -> None:
    [request_id] = store.submit([_request()]).ok.values()
    [request] = store.pick(1)
    request.operations[0].files[0].set_status(F.DONE)
    request.operations[0].files[1].set_status(F.DONE)
    request.operations.insert(1, Operation(type="RegisterReplica", target_se=["SE-B"],
                                           files=[RequestFile(lfn="/demo/b")]))
    assert store.put_back(request) is R.WAITING
    stored = store.get([request_id]).ok[request_id]
    assert [(op.type, op.status) for op in stored.operations] == [
        ("ReplicateAndRegister", O.DONE), ("RegisterReplica", O.WAITING), ("RemoveReplica", O.QUEUED)]


def test_cancel_wins_over_an_executor_putting_the_request_back(store: RequestStore) -> None:
    ids = store.submit([_request("a"), _request("b")]).ok
    [held] = store.pick(1)
    result = store.cancel([ids[0], ids[1], 424242])
    assert set(result.ok) == {ids[0], ids[1]} and isinstance(result.failed[424242], NotFound)
    assert store.put_back(held) is R.CANCELED
    assert store.status([held.request_id]) == {held.request_id: R.CANCELED}  # type: ignore[list-item]
    assert set(store.cancel([ids[0]]).ok) == {ids[0]}  # canceling again changes nothing
    [done_id] = store.submit([_request("c")]).ok.values()
    [done] = store.pick(1)
    for op in done.operations:
        for f in op.files:
            f.set_status(F.DONE)
    assert store.put_back(done) is R.DONE
    refused = store.cancel([done_id])
    assert isinstance(refused.failed[done_id], InvalidTransition)
    assert store.status([done_id]) == {done_id: R.DONE}


def test_stuck_requests_go_back_and_old_final_ones_are_deleted(store: RequestStore,
                                                               fake_clock: FakeClock) -> None:
    ids = store.submit([_request("a"), _request("b"), _request("c")]).ok
    picked = store.pick(2)
    fake_clock.advance(timedelta(hours=2))
    assert store.kick_stuck(timedelta(hours=1)) == 2
    assert store.counts() == {R.WAITING: 3}
    for op in picked[0].operations:
        for f in op.files:
            f.set_status(F.DONE)
    store.put_back(picked[0])
    store.cancel([ids[2]])
    fake_clock.advance(timedelta(days=61))
    assert store.clean(timedelta(days=60)) == 1  # the Done one; Canceled ones are kept by default
    assert store.counts() == {R.WAITING: 1, R.CANCELED: 1}
    assert store.clean(timedelta(days=60), failed_too=True) == 1
    assert store.pending() is True
    assert ids[0] not in store.get([ids[0]]).ok

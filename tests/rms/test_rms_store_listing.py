"""The store's executor helpers (release, touch) and its listing (search), on every backend."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dirac_core.db import Database
from dirac_core.model import FakeClock
from dirac_core.model.request import RequestFileStatus as F
from dirac_core.model.request import RequestStatus as R
from dirac_core.rms import Operation, Request, RequestFile, RequestStore


@pytest.fixture
def store(database: Database, fake_clock: FakeClock) -> RequestStore:
    return RequestStore(database=database, clock=fake_clock)


def _request(name: str, owner: str = "alice", vo: str = "demo", job_id: int | None = None) -> Request:
    return Request(name=name, owner=owner, owner_group="g", vo=vo, job_id=job_id, operations=[
        Operation(type="RemoveReplica", target_se=["SE-A"], files=[RequestFile(lfn=f"/demo/{name}")]),
        Operation(type="RemoveFile", files=[RequestFile(lfn=f"/demo/{name}")])])


def test_release_gives_picked_requests_back_untouched(store: RequestStore, fake_clock: FakeClock) -> None:
    [rid] = store.submit([_request("a")]).ok.values()
    [picked] = store.pick(5)
    later = fake_clock.now() + timedelta(hours=1)
    picked.not_before = later
    store.put_back(picked)
    fake_clock.advance(timedelta(hours=2))
    [picked] = store.pick(5)
    assert store.release([rid, 999]) == 1
    back = store.get([rid]).ok[rid]
    assert (back.status, back.not_before) == (R.WAITING, later)
    assert [f.attempt for op in back.operations for f in op.files] == [0, 0]
    assert store.release([rid]) == 0  # Waiting now: not Assigned any more


def test_touch_keeps_a_request_in_flight_from_being_kicked(store: RequestStore,
                                                           fake_clock: FakeClock) -> None:
    ids = list(store.submit([_request("a"), _request("b")]).ok.values())
    assert len(store.pick(5)) == 2
    fake_clock.advance(timedelta(minutes=50))
    store.touch(ids[:1])
    fake_clock.advance(timedelta(minutes=20))
    assert store.kick_stuck(timedelta(hours=1)) == 1
    assert store.status(ids) == {ids[0]: R.ASSIGNED, ids[1]: R.WAITING}


def test_search_lists_requests_newest_first_with_their_operations(store: RequestStore) -> None:
    made = (_request("a"), _request("b", job_id=7), _request("c", owner="bob"), _request("d", vo="other"))
    ids = [store.submit([r]).ok[0] for r in made]
    [picked] = [r for r in store.pick(10) if r.request_id == ids[1]]
    picked.operations[0].files[0].set_status(F.DONE)
    store.put_back(picked)
    store.release(ids)
    store.cancel([ids[0]])
    mine = store.search(owner="alice", vo="demo")
    assert [(s.request_id, s.status, s.operations, s.current) for s in mine] == [
        (ids[1], R.WAITING, ("RemoveReplica", "RemoveFile"), "RemoveFile"),
        (ids[0], R.CANCELED, ("RemoveReplica", "RemoveFile"), None)]
    assert [s.request_id for s in store.search(vo="demo")] == [ids[2], ids[1], ids[0]]
    assert [s.request_id for s in store.search(statuses=["Canceled"])] == [ids[0]]
    assert [s.request_id for s in store.search(job_id=7)] == [ids[1]]
    assert [s.request_id for s in store.search(page=2, per_page=3)] == [ids[0]]
    assert store.search(owner="nobody") == []

"""Data tasks become requests of the transformation's author (the three body forms), request outcomes
flow back to the tasks and files, and lost reservations are found by request name."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from tfs_helpers import ALICE, build, catalog_with, spec

from dirac_core.db import Database
from dirac_core.model import FakeClock
from dirac_core.model.request import RequestFileStatus, RequestStatus
from dirac_core.model.transformation import TaskStatus as K
from dirac_core.model.transformation import TransformationFileStatus as F
from dirac_core.rms import Request
from dirac_core.transformation import SubmitResult, TransformationSystem

FILES = {"/demo/a1": ["SE-A"], "/demo/a2": ["SE-A"], "/demo/b1": ["SE-B"], "/demo/b2": ["SE-B"]}


@pytest.fixture
def system(database: Database, fake_clock: FakeClock) -> TransformationSystem:
    return build(database, fake_clock, catalog=catalog_with(FILES))


def _submitted(system: TransformationSystem, body: str, **overrides: Any) -> int:
    tid = system.create(spec(type="Replication", body=body, **overrides), ALICE).transformation_id
    system.add_files(tid, list(FILES))
    system.start(tid)
    system.split(tid)
    assert system.submit_tasks(tid) == {tid: SubmitResult(submitted=2)}
    return tid


def _requests(system: TransformationSystem, tid: int) -> list[Request]:
    assert system.requests is not None
    ids = [t.external_id or 0 for t in system.tasks(tid)]
    got = system.requests.get(ids)
    return [got.ok[i] for i in ids]


def test_an_empty_body_replicates_to_the_task_targets(system: TransformationSystem) -> None:
    tid = _submitted(system, "")
    first, second = _requests(system, tid)
    assert (first.name, first.owner, first.owner_group, first.vo, first.source) == (
        f"{tid:08d}_00000001", "alice", "demo_prod", "demo", "TransformationSystem")
    assert [(op.type, op.target_se, [f.lfn for f in op.files]) for op in first.operations] == [
        ("ReplicateAndRegister", ("SE-A",), ["/demo/a1", "/demo/a2"])]
    assert second.operations[0].target_se == ("SE-B",)


def test_a_typed_body_makes_one_operation_of_that_type(system: TransformationSystem) -> None:
    tid = _submitted(system, "Removal;RemoveReplica")
    assert [[(op.type, op.target_se) for op in r.operations] for r in _requests(system, tid)] == [
        [("RemoveReplica", ("SE-A",))], [("RemoveReplica", ("SE-B",))]]


def test_a_json_body_fills_in_task_values(system: TransformationSystem) -> None:
    body = ('[["ReplicateAndRegister", {"TargetSE": "SE-TAPE", "SourceSE": "TASK:TargetSE"}],'
            ' ["RemoveReplica", {"TargetSE": "TASK:Scratch"}]]')
    tid = _submitted(system, body, parameters={"Scratch": "SE-B"})
    first = _requests(system, tid)[0]
    assert [(op.type, op.source_se, op.target_se, len(op.files)) for op in first.operations] == [
        ("ReplicateAndRegister", ("SE-A",), ("SE-TAPE",), 2), ("RemoveReplica", (), ("SE-B",), 2)]


def _finish(system: TransformationSystem, request_id: int, files: dict[str, RequestFileStatus]) -> None:
    """An executor's work: the request taken, its files given an outcome, put back."""
    assert system.requests is not None
    request = system.requests.get([request_id]).ok[request_id]
    for op in request.operations:
        for f in op.files:
            f.set_status(files.get(f.lfn, RequestFileStatus.DONE), "lost" if f.lfn in files else "")
    system.requests.put_back(request)


def test_request_outcomes_flow_back(system: TransformationSystem, fake_clock: FakeClock) -> None:
    tid = _submitted(system, "")
    first, second = system.tasks(tid)
    fake_clock.advance(timedelta(minutes=10))
    assert system.monitor_tasks(tid) == {tid: {K.WAITING: 2}}
    assert {f.status for f in system.files(tid)} == {F.ASSIGNED}
    _finish(system, first.external_id or 0, {})
    _finish(system, second.external_id or 0, {"/demo/b2": RequestFileStatus.FAILED})
    assert system.requests is not None
    assert system.requests.status([second.external_id or 0]) == {second.external_id: RequestStatus.FAILED}
    fake_clock.advance(timedelta(minutes=10))
    assert system.monitor_tasks(tid) == {tid: {K.DONE: 1, K.FAILED: 1}}
    files = {f.lfn: (f.status, f.error_count) for f in system.files(tid)}
    assert files == {"/demo/a1": (F.PROCESSED, 0), "/demo/a2": (F.PROCESSED, 0),
                     "/demo/b1": (F.PROCESSED, 0), "/demo/b2": (F.PROBLEMATIC, 1)}


def test_a_request_not_final_leaves_the_files_assigned(system: TransformationSystem,
                                                       fake_clock: FakeClock) -> None:
    tid = _submitted(system, "")
    assert system.requests is not None
    held = system.requests.pick(1)[0].request_id  # an executor holds it: Assigned is not mirrored
    fake_clock.advance(timedelta(minutes=10))
    system.monitor_tasks(tid)
    assert {t.external_id: t.status for t in system.tasks(tid)}[held] is K.SUBMITTED
    assert {t.status for t in system.tasks(tid) if t.external_id != held} == {K.WAITING}
    assert {f.status for f in system.files(tid)} == {F.ASSIGNED}


def test_a_lost_reservation_is_found_by_request_name(system: TransformationSystem, fake_clock: FakeClock,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    tid = system.create(spec(type="Replication", body=""), ALICE).transformation_id
    system.add_files(tid, list(FILES))
    system.start(tid)
    system.split(tid)

    def crash(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(system._submitter, "_record", crash)
    with pytest.raises(KeyboardInterrupt):
        system.submit_tasks(tid)
    monkeypatch.undo()
    fake_clock.advance(timedelta(hours=1, seconds=1))
    assert system.recover_reserved() == {tid: (2, 0)}
    assert system.requests is not None
    by_name = {r.name: r.request_id for r in system.requests.search()}
    assert [(t.status, t.external_id) for t in system.tasks(tid)] == [
        (K.SUBMITTED, by_name[t.name]) for t in system.tasks(tid)]

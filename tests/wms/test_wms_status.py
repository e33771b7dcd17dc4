"""Bulk status updates, heartbeats, kill, delete and reschedule."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from wms_helpers import ADMIN, PILOT, resource, who

from dirac_core.errors import InvalidTransition, NotFound, PermissionDenied
from dirac_core.model import FakeClock
from dirac_core.model.job import JobStatus
from dirac_core.wms import StatusUpdate, WorkloadManager


def _running(wms: WorkloadManager, n: int = 1) -> list[int]:
    """Submit ``n`` jobs and take them to Running through the matcher and a heartbeat."""
    ids = [j.job_id for j in wms.submit(['[Executable = "a"]'] * n, who())]
    for _ in ids:
        assert wms.match(resource(), PILOT) is not None
    wms.heartbeat({j: {} for j in ids})
    return ids


def _at(clock: FakeClock, seconds: float) -> datetime:
    return clock.now() + timedelta(seconds=seconds)


def test_updates_apply_in_time_order_and_set_times(wms: WorkloadManager, fake_clock: FakeClock) -> None:
    [job] = _running(wms)
    t1, t2 = _at(fake_clock, 10), _at(fake_clock, 20)
    result = wms.set_status({job: {
        t2: {"Status": "Done", "MinorStatus": "Execution Complete", "Source": "JobWrapper"},
        t1: {"Status": "Completing", "MinorStatus": "Uploading Outputs", "Source": "JobWrapper"},
    }})
    state = result.ok[job]
    assert state.status is JobStatus.DONE and state.minor_status == "Execution Complete"
    assert state.end_exec_time == t2 and state.heartbeat_time == t2
    statuses = [h["status"] for h in wms.history(job)][-2:]
    assert statuses == [JobStatus.COMPLETING, JobStatus.DONE]


def test_refused_transition_is_recorded_and_leaves_the_job(wms: WorkloadManager,
                                                            fake_clock: FakeClock) -> None:
    [job] = wms.submit('[Executable = "a"]', who())
    result = wms.set_status({job.job_id: {_at(fake_clock, 1): StatusUpdate(
        status=JobStatus.DONE, minor_status="claimed", source="Someone")}})
    assert result.ok[job.job_id].status is JobStatus.WAITING
    assert result.ok[job.job_id].minor_status == "Pilot Agent Submission"
    last = wms.history(job.job_id)[-1]
    assert last["refused"] is True and last["status"] is JobStatus.DONE
    assert last["source"] == "Someone"


def test_force_needs_an_administrator_and_bypasses_the_table(wms: WorkloadManager,
                                                            fake_clock: FakeClock) -> None:
    [job] = wms.submit('[Executable = "a"]', who())
    update = {job.job_id: {_at(fake_clock, 1): {"Status": "Done"}}}
    with pytest.raises(PermissionDenied):
        wms.set_status(update, force=True, identity=who())
    assert wms.set_status(update, force=True, identity=ADMIN).ok[job.job_id].status is JobStatus.DONE


def test_older_updates_are_only_recorded(wms: WorkloadManager, fake_clock: FakeClock) -> None:
    [job] = _running(wms)
    wms.set_status({job: {_at(fake_clock, 100): {"Status": "Done", "Source": "JobWrapper"}}})
    result = wms.set_status({job: {_at(fake_clock, 50): {"Status": "Failed", "Source": "Late"}}})
    assert result.ok[job].status is JobStatus.DONE
    assert any(h["source"] == "Late" and h["status"] is JobStatus.FAILED for h in wms.history(job))


def test_a_stalled_job_is_revived_by_a_running_update(wms: WorkloadManager,
                                                     fake_clock: FakeClock) -> None:
    [job] = _running(wms)
    wms.set_status({job: {_at(fake_clock, 1): {"Status": "Stalled"}}}, force=True)
    result = wms.set_status({job: {_at(fake_clock, 2): {"MinorStatus": "Application",
                                                        "Status": "Running"}}})
    assert result.ok[job].status is JobStatus.RUNNING


def test_naive_timestamp_and_unknown_job(wms: WorkloadManager, fake_clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="timezone"):
        wms.set_status({1: {datetime(2026, 1, 1): {"Status": "Running"}}})
    result = wms.set_status({424242: {_at(fake_clock, 1): {"Status": "Running"}}})
    assert isinstance(result.failed[424242], NotFound)


def test_heartbeat_revives_stalled_and_returns_commands_once(wms: WorkloadManager,
                                                             fake_clock: FakeClock) -> None:
    [job] = _running(wms)
    wms.set_status({job: {_at(fake_clock, 1): {"Status": "Stalled"}}}, force=True)
    wms.kill([job])  # Stalled -> Killed queues a Kill
    assert wms.get_jobs([job])[job]["status"] is JobStatus.KILLED
    first = wms.heartbeat({job: {"CPUConsumed": 12.5, "Unknown": 1}})
    assert [c.command for c in first.ok[job]] == ["Kill"]
    assert wms.heartbeat({job: {}}).ok[job] == []


def test_heartbeat_moves_matched_to_running(wms: WorkloadManager, fake_clock: FakeClock) -> None:
    [job] = wms.submit('[Executable = "a"]', who())
    wms.match(resource(), PILOT)
    fake_clock.advance(5)
    wms.heartbeat({job.job_id: {"LoadAverage": 1.0}})
    row = wms.get_jobs([job.job_id])[job.job_id]
    assert row["status"] is JobStatus.RUNNING
    assert row["heartbeat_time"] == row["start_exec_time"] == fake_clock.now()


def test_kill_waiting_job_leaves_the_queue_and_final_jobs_refuse(wms: WorkloadManager,
                                                                fake_clock: FakeClock) -> None:
    a, b = (j.job_id for j in wms.submit(['[Executable = "a"]'] * 2, who()))
    wms.set_status({b: {_at(fake_clock, 1): {"Status": "Done"}}}, force=True)
    result = wms.kill([a, b, 999])
    assert result.ok == {a: JobStatus.KILLED}
    assert isinstance(result.failed[b], InvalidTransition)
    assert isinstance(result.failed[999], NotFound)
    assert wms.match(resource(), PILOT) is None


def test_delete_kills_running_jobs_first(wms: WorkloadManager) -> None:
    [job] = _running(wms)
    assert wms.delete([job]).ok[job] is JobStatus.DELETED
    statuses = [h["status"] for h in wms.history(job)][-2:]
    assert statuses == [JobStatus.KILLED, JobStatus.DELETED]
    assert [c.command for c in wms.heartbeat({job: {}}).ok[job]] == ["Kill"]


def test_reschedule_clears_stale_kill_and_holds_then_releases(wms: WorkloadManager,
                                                             fake_clock: FakeClock) -> None:
    [job] = _running(wms)
    wms.set_status({job: {_at(fake_clock, 1): {"Status": "Stalled"}}}, force=True)
    wms.kill([job], force=False)
    wms.set_status({job: {_at(fake_clock, 2): {"Status": "Failed"}}}, force=True)
    assert wms.reschedule([job]).ok[job] == 1
    row = wms.get_jobs([job])[job]
    assert (row["status"], row["minor_status"]) == (JobStatus.CHECKING, "Rescheduling delay")
    assert wms.heartbeat({job: {}}).ok[job] == []  # the old Kill was cancelled
    assert wms.match(resource(), PILOT) is None
    fake_clock.advance(59)
    assert wms.release_held() == 0
    fake_clock.advance(2)
    assert wms.release_held() == 1
    matched = wms.match(resource(), PILOT)
    assert matched is not None and matched.job_id == job


def test_reschedule_past_the_limit_fails(wms: WorkloadManager, fake_clock: FakeClock) -> None:
    [job] = wms.submit('[Executable = "a"]', who())
    for counter in (1, 2, 3):
        assert wms.reschedule([job.job_id]).ok[job.job_id] == counter
        fake_clock.advance(3600)
        wms.release_held()
    wms.reschedule([job.job_id])
    row = wms.get_jobs([job.job_id])[job.job_id]
    assert (row["status"], row["minor_status"]) == (JobStatus.FAILED,
                                                    "Maximum of reschedulings reached")


def test_rescheduled_status_from_a_pilot_sends_the_job_back(wms: WorkloadManager,
                                                           fake_clock: FakeClock) -> None:
    [job] = _running(wms)
    wms.set_status({job: {_at(fake_clock, 1): {"Status": "Rescheduled", "Source": "JobAgent"}}})
    row = wms.get_jobs([job])[job]
    assert row["status"] is JobStatus.CHECKING and row["reschedule_counter"] == 1


def test_waiting_set_by_an_update_enters_a_task_queue(wms: WorkloadManager,
                                                      fake_clock: FakeClock) -> None:
    [job] = wms.submit('[Executable = "a"; InputData = "/demo/tape"]', who())
    assert job.status is JobStatus.STAGING
    wms.set_status({job.job_id: {_at(fake_clock, 1): {"Status": "Waiting", "Source": "Stager"}}})
    assert wms.match(resource("DIRAC.A.ch"), PILOT) is None
    matched = wms.match(resource("DIRAC.B.fr"), PILOT)
    assert matched is not None and matched.job_id == job.job_id


def test_parameters_round_trip(wms: WorkloadManager) -> None:
    [job] = wms.submit('[Executable = "a"]', who())
    wms.set_parameters(job.job_id, {"HostName": "wn1", "CPU": 2})
    wms.set_parameters(job.job_id, {"CPU": 4})
    assert wms.get_parameters(job.job_id) == {"HostName": "wn1", "CPU": "4"}
    with pytest.raises(NotFound):
        wms.set_parameters(77777, {"a": 1})


def test_heartbeat_of_an_unknown_job_fails_that_item(wms: WorkloadManager) -> None:
    [job] = _running(wms)
    result = wms.heartbeat({job: {}, 31337: {}})
    assert result.ok == {job: []} and isinstance(result.failed[31337], NotFound)


def test_many_jobs_with_their_own_values(wms: WorkloadManager, fake_clock: FakeClock) -> None:
    # enough distinct rows for the servers' temporary-table update path
    ids = [j.job_id for j in wms.submit(['[Executable = "a"]'] * 300, who())]
    updates = {job: {_at(fake_clock, i + 1): {"Status": "Killed", "MinorStatus": f"by test {i}"}}
               for i, job in enumerate(ids)}
    assert len(wms.set_status(updates).ok) == 300
    rows = wms.get_jobs(ids)
    for i, job in enumerate(ids):
        assert (rows[job]["status"], rows[job]["minor_status"]) == (JobStatus.KILLED, f"by test {i}")
        assert rows[job]["end_exec_time"] == _at(fake_clock, i + 1)
    assert wms.match(resource(), PILOT) is None


def test_a_bulk_status_update_runs_with_the_collector_paused(wms: WorkloadManager,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """1,000 updates work out their rows with the collector paused (``dirac_core.gc_pause``);
    a few updates leave it alone."""
    import gc

    from dirac_core.wms import engine

    seen: list[tuple[int, bool]] = []
    real = engine.apply_updates

    def watched(conn, updates, **kw):  # type: ignore[no-untyped-def]
        seen.append((len(updates), gc.isenabled()))
        return real(conn, updates, **kw)

    monkeypatch.setattr(engine, "apply_updates", watched)
    ids = [job.job_id for job in wms.submit(['[Executable = "a"]'] * 1000, who())]
    when = datetime.now().astimezone()
    wms.set_status({j: {when: StatusUpdate(status=JobStatus.MATCHED)} for j in ids})
    later = when + timedelta(seconds=1)
    wms.set_status({j: {later: StatusUpdate(status=JobStatus.RUNNING)} for j in ids[:5]})
    assert seen == [(1000, False), (5, True)]
    assert gc.isenabled()
    assert wms.get_jobs(ids[:1])[ids[0]]["status"] == JobStatus.RUNNING

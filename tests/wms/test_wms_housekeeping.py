"""Periodic WMS work: stalled jobs, stuck matches, cleaning, queue maintenance."""

from __future__ import annotations

from sqlalchemy import func, select
from wms_helpers import PILOT, resource, who

from dirac_core.db.tables.wms import heartbeats, job_history, jobs, task_queues
from dirac_core.model import FakeClock
from dirac_core.model.job import JobStatus
from dirac_core.wms import WorkloadManager, housekeeping
from dirac_core.wms.tasks import wms_tasks


def _running(wms: WorkloadManager) -> int:
    [job] = wms.submit('[Executable = "a"]', who())
    assert wms.match(resource(), PILOT) is not None
    wms.heartbeat({job.job_id: {"CPUConsumed": 1}})
    return job.job_id


def _count(wms: WorkloadManager, table, **where: object) -> int:  # type: ignore[no-untyped-def]
    query = select(func.count()).select_from(table)
    for name, value in where.items():
        query = query.where(table.c[name] == value)
    with wms.database.begin(read_only=True) as conn:
        return int(conn.execute(query).scalar_one())


def test_silent_job_stalls_then_fails_with_a_kill(wms: WorkloadManager,
                                                  fake_clock: FakeClock) -> None:
    job = _running(wms)
    fake_clock.advance(7199)
    assert housekeeping.detect_stalled(wms) == 0
    fake_clock.advance(2)
    assert housekeeping.detect_stalled(wms) == 1
    assert wms.get_jobs([job])[job]["status"] is JobStatus.STALLED
    fake_clock.advance(21601)
    assert housekeeping.detect_stalled(wms) == 1
    row = wms.get_jobs([job])[job]
    assert (row["status"], row["minor_status"]) == (JobStatus.FAILED,
                                                    "Stalling for more than 21600 sec")
    assert [c.command for c in wms.heartbeat({job: {}}).ok[job]] == ["Kill"]


def test_a_heartbeat_keeps_a_job_alive(wms: WorkloadManager, fake_clock: FakeClock) -> None:
    job = _running(wms)
    for _ in range(5):
        fake_clock.advance(3600)
        wms.heartbeat({job: {}})
        assert housekeeping.detect_stalled(wms) == 0


def test_stuck_matched_job_is_rescheduled(wms: WorkloadManager, fake_clock: FakeClock) -> None:
    [job] = wms.submit('[Executable = "a"]', who())
    wms.match(resource(), PILOT)
    fake_clock.advance(7201)
    assert housekeeping.recover_matched(wms) == 1
    row = wms.get_jobs([job.job_id])[job.job_id]
    assert row["reschedule_counter"] == 1 and row["status"] is JobStatus.CHECKING


def test_old_final_jobs_are_deleted_then_removed(wms: WorkloadManager,
                                                 fake_clock: FakeClock) -> None:
    job = _running(wms)
    [young] = wms.submit('[Executable = "a"]', who())
    wms.set_status({job: {fake_clock.now(): {"Status": "Done", "Source": "JobWrapper"}}})
    fake_clock.advance(7 * 86400 + 1)
    assert housekeeping.remove_old_jobs(wms) == 1
    assert wms.get_jobs([job, young.job_id]).keys() == {young.job_id}
    assert _count(wms, job_history, job_id=job) == 0
    assert _count(wms, heartbeats, job_id=job) == 0


def test_heartbeat_metrics_expire(wms: WorkloadManager, fake_clock: FakeClock) -> None:
    job = _running(wms)
    assert _count(wms, heartbeats, job_id=job) == 1
    fake_clock.advance(31 * 86400)
    assert housekeeping.clean_heartbeats(wms) == 1


def test_empty_queues_are_removed_after_five_minutes(wms: WorkloadManager,
                                                     fake_clock: FakeClock) -> None:
    wms.submit('[Executable = "a"]', who())
    wms.match(resource(), PILOT)
    assert housekeeping.maintain_queues(wms) == 0
    fake_clock.advance(301)
    assert housekeeping.maintain_queues(wms) == 1
    assert _count(wms, task_queues) == 0


def test_tasks_are_named_and_run(wms: WorkloadManager, fake_clock: FakeClock) -> None:
    tasks = {t.name: t for t in wms_tasks(wms)}
    assert set(tasks) == {"wms.stalled_jobs", "wms.matched_recovery", "wms.held_jobs",
                          "wms.job_cleaning", "wms.heartbeat_cleaning", "wms.task_queues",
                          "wms.status_counts"}
    _running(wms)
    fake_clock.advance(8000)
    assert tasks["wms.stalled_jobs"].run_once() == 1
    assert _count(wms, jobs, status=JobStatus.STALLED) == 1

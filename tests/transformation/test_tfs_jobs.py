"""Processing tasks become WMS jobs (name, group, input data, sites), job outcomes flow back to the
tasks and files, and reservations lost by a task manager are recovered by name."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from tfs_helpers import ALICE, build, catalog_with, spec

from dirac_core.config import load_config
from dirac_core.db import Database
from dirac_core.db.tables.wms import jobs
from dirac_core.jdl.description import JobDescription
from dirac_core.model import FakeClock
from dirac_core.model.job import JobStatus
from dirac_core.model.transformation import TaskStatus as K
from dirac_core.model.transformation import TransformationFileStatus as F
from dirac_core.transformation import SubmitResult, TransformationSystem
from dirac_core.wms.status_updates import StatusUpdate

FILES = {"/demo/a1": ["SE-A"], "/demo/a2": ["SE-A"], "/demo/b1": ["SE-B"], "/demo/b2": ["SE-B"],
         "/demo/c1": ["SE-TAPE", "SE-B"], "/demo/c2": ["SE-B", "SE-TAPE"]}


@pytest.fixture
def system(database: Database, fake_clock: FakeClock) -> TransformationSystem:
    return build(database, fake_clock, catalog=catalog_with(FILES))


def _running(system: TransformationSystem, **overrides: Any) -> int:
    """A started transformation over FILES, split into three tasks of two files."""
    tid = system.create(spec(**overrides), ALICE).transformation_id
    system.add_files(tid, list(FILES))
    system.start(tid)
    assert system.split(tid)[tid].tasks == 3
    return tid


def _jobs(system: TransformationSystem) -> dict[int, dict[str, Any]]:
    assert system.wms is not None
    return system.wms.get_jobs(range(1, 1000))


def test_each_task_becomes_a_job_of_its_author(system: TransformationSystem) -> None:
    tid = _running(system)
    assert system.submit_tasks() == {tid: SubmitResult(submitted=3)}
    tasks = system.tasks(tid)
    assert {t.status for t in tasks} == {K.SUBMITTED}
    jobs = _jobs(system)
    assert sorted(jobs) == sorted(t.external_id for t in tasks)
    assert system.wms is not None
    for task in tasks:
        job = jobs[task.external_id]  # type: ignore[index]
        assert (job["job_name"], job["job_group"], job["owner"], job["owner_group"]) == (
            task.name, f"{tid:08d}", "alice", "demo_prod")
        desc = JobDescription.from_jdl(system.wms.get_jdl(job["job_id"]))
        assert desc.input_data == tuple(f"LFN:{lfn}" for lfn in task.lfns)
        assert (desc.executable, desc.arguments) == ("reco.sh", "-n 10")
        assert desc.extra["PRODUCTION_ID"] == f"{tid:08d}" and desc.extra["JOB_ID"] == f"{task.task_id:08d}"
        expected = {("SE-A",): ("LCG.A.ch",), ("SE-B",): ("LCG.B.fr",), ("SE-B", "SE-TAPE"): ("LCG.B.fr",)}
        assert desc.sites == expected[task.target_ses]
        assert job["status"] is JobStatus.WAITING
    assert system.submit_tasks() == {tid: SubmitResult()}


def test_manual_transformations_are_not_submitted(system: TransformationSystem) -> None:
    tid = _running(system)
    system.set_status(tid, "Active", agent_type="Manual")  # type: ignore[arg-type]
    assert system.submit_tasks() == {}
    assert {t.status for t in system.tasks(tid)} == {K.CREATED}


def test_a_template_site_narrows_the_destination(database: Database, fake_clock: FakeClock) -> None:
    system = build(database, fake_clock, catalog=catalog_with(FILES))
    body = '[ Executable = "reco.sh"; JobType = "DataProcessing"; Site = "LCG.B.fr;LCG.C.it"; ]'
    tid = _running(system, body=body)
    result = system.submit_tasks(tid)[tid]
    # the SE-A task's site is not allowed by the template: that task fails, its files come back
    assert result == SubmitResult(submitted=2, failed=1)
    by_task = {t.target_ses: t for t in system.tasks(tid)}
    assert by_task[("SE-A",)].status is K.FAILED
    assert system.wms is not None
    assert JobDescription.from_jdl(system.wms.get_jdl(by_task[("SE-B",)].external_id or 0)).sites == (
        "LCG.B.fr",)
    files = {f.lfn: (f.status, f.error_count, f.task_id) for f in system.files(tid)}
    assert files["/demo/a1"] == (F.UNUSED, 1, None)


def _set_job(system: TransformationSystem, clock: FakeClock, job_id: int, status: JobStatus) -> None:
    assert system.wms is not None
    clock.advance(1)
    system.wms.set_status({job_id: {clock.now(): StatusUpdate(status=status, source="test")}}, force=True)


def test_job_outcomes_flow_back_to_tasks_and_files(system: TransformationSystem,
                                                   fake_clock: FakeClock) -> None:
    tid = _running(system)
    system.submit_tasks()
    first, second, third = system.tasks(tid)
    _set_job(system, fake_clock, first.external_id or 0, JobStatus.RUNNING)
    _set_job(system, fake_clock, second.external_id or 0, JobStatus.FAILED)
    # too early: tasks are looked at again only after the monitoring delay
    assert system.monitor_tasks() == {tid: {}}
    fake_clock.advance(timedelta(minutes=10))
    assert system.monitor_tasks() == {tid: {K.RUNNING: 1, K.FAILED: 1, K.WAITING: 1}}
    _set_job(system, fake_clock, first.external_id or 0, JobStatus.DONE)
    assert system.wms is not None
    system.wms.delete([third.external_id or 0])  # a job removed from the WMS by hand
    with system.database.begin() as conn:  # ... and gone for good
        conn.execute(jobs.delete().where(jobs.c.job_id == third.external_id))
    fake_clock.advance(timedelta(minutes=10))
    assert system.monitor_tasks() == {tid: {K.DONE: 1, K.FAILED: 1}}
    assert [t.status for t in system.tasks(tid)] == [K.DONE, K.FAILED, K.FAILED]
    files = {f.lfn: (f.status, f.error_count) for f in system.files(tid)}
    assert files == {"/demo/a1": (F.PROCESSED, 0), "/demo/a2": (F.PROCESSED, 0),
                     "/demo/b1": (F.UNUSED, 1), "/demo/b2": (F.UNUSED, 1),
                     "/demo/c1": (F.UNUSED, 1), "/demo/c2": (F.UNUSED, 1)}
    # final tasks are no longer followed; the files go round again
    fake_clock.advance(timedelta(minutes=10))
    assert system.monitor_tasks() == {tid: {}}
    assert system.split(tid)[tid].tasks == 2


def test_a_killed_job_sends_its_files_back(system: TransformationSystem, fake_clock: FakeClock) -> None:
    tid = _running(system)
    system.submit_tasks()
    task = system.tasks(tid)[0]
    assert system.wms is not None
    system.wms.kill([task.external_id or 0])
    fake_clock.advance(timedelta(minutes=11))
    system.monitor_tasks(tid)
    assert system.tasks(tid, task_ids=[task.task_id])[0].status is K.KILLED
    assert {f.status for f in system.files(tid) if f.lfn in task.lfns} == {F.UNUSED}


def test_a_lost_reservation_is_recovered_by_name(system: TransformationSystem, fake_clock: FakeClock,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    tid = _running(system)
    submitter = system._submitter

    def crash(*args: Any, **kwargs: Any) -> None:
        raise KeyboardInterrupt  # the task manager dies after submitting, before recording

    monkeypatch.setattr(submitter, "_record", crash)
    with pytest.raises(KeyboardInterrupt):
        system.submit_tasks(tid)
    monkeypatch.undo()
    tasks = system.tasks(tid)
    assert {t.status for t in tasks} == {K.RESERVED}
    # one job goes missing: its task must come back as Created
    with system.database.begin() as conn:
        conn.execute(jobs.delete().where(jobs.c.job_name == tasks[2].name))
    fake_clock.advance(timedelta(minutes=59))
    assert system.recover_reserved() == {}
    fake_clock.advance(timedelta(minutes=2))
    assert system.recover_reserved() == {tid: (2, 1)}
    after = system.tasks(tid)
    names = {job["job_name"]: job_id for job_id, job in _jobs(system).items()}
    assert [(t.status, t.external_id) for t in after] == [
        (K.SUBMITTED, names[tasks[0].name]), (K.SUBMITTED, names[tasks[1].name]), (K.CREATED, None)]
    assert system.submit_tasks(tid)[tid] == SubmitResult(submitted=1)


def test_an_author_who_left_blocks_nothing_but_submits_nothing(database: Database,
                                                                fake_clock: FakeClock) -> None:
    system = build(database, fake_clock, catalog=catalog_with(FILES))
    tid = _running(system)
    left = load_config("""
[registry.vos.demo]
name = "demo"
[registry.users.bob]
name = "bob"
[registry.groups.demo_prod]
name = "demo_prod"
vo = "demo"
users = ["bob"]
""", format="toml")
    gone = build(database, fake_clock, catalog=catalog_with(FILES), config=left)
    result = gone.submit_tasks(tid)[tid]
    assert (result.submitted, result.released) == (0, 3) and "alice" in (result.error or "")
    assert {t.status for t in system.tasks(tid)} == {K.CREATED}


def test_files_whose_jobs_keep_failing_end_max_reset_and_are_left_alone(
        system: TransformationSystem, fake_clock: FakeClock) -> None:
    """The loop a grid must not have: split, submit, fail, back to Unused, ... reset ten times
    (max_reset), then MaxReset at the next failure, and never a new task for those files."""
    tid = _running(system)
    max_reset = system.settings.max_reset
    rounds = 0
    while any(f.status is F.ASSIGNED for f in system.files(tid)):
        rounds += 1
        assert rounds <= max_reset + 1, "the files went round more than max_reset times"
        system.submit_tasks()
        for task in system.tasks(tid, statuses=[K.SUBMITTED]):
            _set_job(system, fake_clock, task.external_id or 0, JobStatus.FAILED)
        fake_clock.advance(timedelta(minutes=10))
        system.monitor_tasks()
        system.split(tid)
    assert rounds == max_reset + 1
    assert {(f.status, f.error_count) for f in system.files(tid)} == {(F.MAX_RESET, max_reset + 1)}
    assert system.split(tid)[tid].tasks == 0
    assert len(system.tasks(tid)) == 3 * rounds and {t.status for t in system.tasks(tid)} == {K.FAILED}
    assert system.stats(tid).files == {F.MAX_RESET: 6}

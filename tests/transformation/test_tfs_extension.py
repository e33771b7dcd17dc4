"""MC extension: input-less tasks up to ``max_tasks`` (failed ones made again), held by the failure
rate, the waiting jobs and the Done count; they become jobs without input data; two extension
cycles at once never make more than ``max_tasks``."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text
from tfs_helpers import ALICE, build, spec

from dirac_core.db import Database
from dirac_core.jdl.description import JobDescription
from dirac_core.model import FakeClock
from dirac_core.model.transformation import TaskStatus as K
from dirac_core.plugins.splitters import TaskGroup
from dirac_core.transformation import (
    ExtensionResult,
    TransformationSettings,
    TransformationSystem,
    store,
    task_store,
)
from dirac_core.transformation.extension import ExtensionHold, tasks_to_create

MC = '[ Executable = "simulate.sh"; JobType = "MCSimulation"; CPUTime = 3600; ]'
SETTINGS = TransformationSettings(tasks_per_iteration=4)


def _mc(system: TransformationSystem, *, max_tasks: int, name: str = "mc", **overrides: Any) -> int:
    values: dict[str, Any] = {"type": "MCSimulation", "plugin": "Standard", "group_size": None, "body": MC,
                              "max_tasks": max_tasks}
    values.update(overrides)
    tid = system.create(spec(name, **values), ALICE).transformation_id
    system.start(tid)
    return tid


def _set_tasks(system: TransformationSystem, tid: int, status: K, task_ids: list[int]) -> None:
    """Tasks as the monitor would leave them after their jobs ended."""
    with system.database.begin() as conn:
        store.lock(conn, tid)
        task_store.change_status(conn, tid, dict.fromkeys(task_ids, (status, None)), expected=tuple(K),
                                 now=system.clock.now())


@pytest.mark.parametrize(("max_tasks", "counts", "expected"), [
    (10, {}, (4, None)),                                          # at most tasks_per_iteration
    (10, {K.CREATED: 8}, (2, None)),
    (10, {K.CREATED: 10}, (0, ExtensionHold.FULL)),
    (10, {K.CREATED: 12}, (0, ExtensionHold.FULL)),               # made by hand beyond max_tasks
    (10, {K.DONE: 7, K.FAILED: 3}, (3, None)),                    # 30 % is not more than 30 %
    (10, {K.DONE: 6, K.FAILED: 4}, (0, ExtensionHold.FAILURE_RATE)),
    (10, {K.DONE: 10}, (0, ExtensionHold.DONE)),
    (2000, {K.WAITING: 1000}, (4, None)),
    (2000, {K.WAITING: 1001}, (0, ExtensionHold.WAITING)),        # more than max_waiting_jobs
    (0, {}, (0, ExtensionHold.NOT_EXTENDABLE)),
])
def test_how_many_tasks(max_tasks: int, counts: dict[K, int],
                        expected: tuple[int, ExtensionHold | None]) -> None:
    assert tasks_to_create(max_tasks, counts, SETTINGS) == expected


def test_tasks_are_made_up_to_max_tasks_and_become_jobs_without_input(database: Database,
                                                                      fake_clock: FakeClock) -> None:
    system = build(database, fake_clock, settings=SETTINGS)
    tid = _mc(system, max_tasks=10)
    made = [system.extend_tasks()[tid] for _ in range(4)]
    assert made == [ExtensionResult(created=4), ExtensionResult(created=4), ExtensionResult(created=2),
                    ExtensionResult(held=ExtensionHold.FULL)]
    tasks = system.tasks(tid)
    assert [t.task_id for t in tasks] == list(range(1, 11))
    assert {(t.status, t.lfns, t.target_ses) for t in tasks} == {(K.CREATED, (), ())}
    assert system.submit_tasks(tid)[tid].submitted == 10
    assert system.wms is not None
    for task in system.tasks(tid):
        desc = JobDescription.from_jdl(system.wms.get_jdl(task.external_id or 0))
        assert desc.input_data == () and desc.executable == "simulate.sh"
        job = system.wms.get_jobs([task.external_id or 0])[task.external_id or 0]
        assert (job["job_name"], job["job_group"]) == (task.name, f"{tid:08d}")
    stats = system.stats(tid)
    assert (stats.tasks_created, stats.processed_percent) == (10, None)


def test_only_active_transformations_of_extendable_types_with_max_tasks(database: Database,
                                                                       fake_clock: FakeClock) -> None:
    system = build(database, fake_clock, settings=SETTINGS)
    active = _mc(system, max_tasks=3)
    _mc(system, name="no-limit", max_tasks=0)
    _mc(system, name="reco", max_tasks=3, type="DataProcessing")
    stopped = _mc(system, name="stopped", max_tasks=3)
    system.stop(stopped)
    assert system.extend_tasks() == {active: ExtensionResult(created=3)}
    assert system.extend_tasks(stopped) == {}
    wider = build(database, fake_clock, settings=TransformationSettings(extendable_types=["MCSimulation",
                                                                                          "DataProcessing"]))
    assert {tid: r.created for tid, r in wider.extend_tasks().items()} == {active: 0, active + 2: 3}


def test_failed_tasks_are_made_again_until_the_failure_rate_is_too_high(database: Database,
                                                                        fake_clock: FakeClock) -> None:
    system = build(database, fake_clock, settings=TransformationSettings(tasks_per_iteration=50))
    tid = _mc(system, max_tasks=10)
    assert system.extend_tasks()[tid].created == 10
    _set_tasks(system, tid, K.FAILED, [1, 2])
    _set_tasks(system, tid, K.DONE, [3, 4, 5])
    assert system.extend_tasks()[tid] == ExtensionResult(created=2)  # 2 of 10 failed: made again
    _set_tasks(system, tid, K.FAILED, [6, 7])                       # 4 of 12: 33 % > 30 %
    assert system.extend_tasks()[tid] == ExtensionResult(held=ExtensionHold.FAILURE_RATE)
    assert len(system.tasks(tid)) == 12


def test_done_tasks_reaching_max_tasks_stop_it(database: Database, fake_clock: FakeClock) -> None:
    system = build(database, fake_clock, settings=SETTINGS)
    tid = _mc(system, max_tasks=3)
    system.extend_tasks()
    _set_tasks(system, tid, K.DONE, [1, 2, 3])
    assert system.extend_tasks()[tid] == ExtensionResult(held=ExtensionHold.DONE)


def test_too_many_waiting_jobs_hold_it(database: Database, fake_clock: FakeClock) -> None:
    system = build(database, fake_clock, settings=TransformationSettings(tasks_per_iteration=3,
                                                                         max_waiting_jobs=2))
    tid = _mc(system, max_tasks=6)
    assert system.extend_tasks()[tid].created == 3
    system.submit_tasks()
    fake_clock.advance(timedelta(minutes=10))
    assert system.monitor_tasks() == {tid: {K.WAITING: 3}}  # the jobs wait for a pilot
    assert system.extend_tasks()[tid] == ExtensionResult(held=ExtensionHold.WAITING)
    _set_tasks(system, tid, K.RUNNING, [1])
    assert system.extend_tasks()[tid] == ExtensionResult(created=3)


def _twice(work: Any) -> list[Any]:
    barrier = threading.Barrier(2)
    results: list[Any] = [None, None]
    errors: list[BaseException] = []

    def run(worker: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[worker] = work(worker)
        except BaseException as exc:
            barrier.abort()
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "an extension cycle is stuck"
    if errors:
        raise errors[0]
    return results


def test_two_extension_cycles_at_once_never_pass_max_tasks(database: Database, fake_clock: FakeClock) -> None:
    pools = [Database(database.url), Database(database.url)]  # two processes' pools
    settings = TransformationSettings(tasks_per_iteration=20)
    try:
        systems = [build(pool, fake_clock, settings=settings) for pool in pools]
        tid = _mc(systems[0], max_tasks=30)
        for _ in range(3):
            _twice(lambda worker: systems[worker].extend_tasks(tid))
        tasks = systems[0].tasks(tid)
        assert [t.task_id for t in tasks] == list(range(1, 31))
    finally:
        for pool in pools:
            pool.close()


def _lock_waits(conn: Any) -> int:
    """Statements of this database waiting for a lock (MariaDB waits for a primary-key row while
    optimising the statement, before the transaction shows in INNODB_TRX: look at the statements)."""
    if conn.dialect.name == "postgresql":
        return int(conn.execute(text("SELECT count(*) FROM pg_stat_activity "
                                     "WHERE datname = current_database() AND wait_event_type = 'Lock'")
                                ).scalar_one())
    return int(conn.execute(text(
        "SELECT count(*) FROM information_schema.PROCESSLIST WHERE db = DATABASE() AND id <> CONNECTION_ID() "
        "AND info LIKE '%FROM tfs_transformations%FOR UPDATE%'")).scalar_one())


@pytest.mark.parametrize("db_url", ["mysql", "postgresql"], indirect=True)
def test_an_extension_waits_for_the_row_lock_and_counts_what_the_other_made(database: Database,
                                                                            fake_clock: FakeClock) -> None:
    pools = [Database(database.url), Database(database.url)]
    settings = TransformationSettings(tasks_per_iteration=20)
    try:
        first, second = (build(pool, fake_clock, settings=settings) for pool in pools)
        tid = _mc(first, max_tasks=30)
        result: dict[int, ExtensionResult] = {}
        with pools[0].begin() as conn:  # another extension cycle, halfway: its 20 tasks not committed
            row = store.lock(conn, tid)
            task_store.write_tasks(conn, tid, row.last_task_id, [TaskGroup(target_ses=(), lfns=())] * 20,
                                   file_ids=[()] * 20, now=fake_clock.now())
            thread = threading.Thread(target=lambda: result.update(second.extend_tasks(tid)))
            thread.start()
            waiting = threading.Event()
            with database.engine.connect() as watcher:  # until the second one waits for the row lock
                for _ in range(3000):
                    if _lock_waits(watcher):
                        break
                    waiting.wait(0.01)
                    watcher.rollback()
                else:
                    pytest.fail("the second extension cycle never waited for the transformation's lock")
        thread.join(timeout=60)
        assert not thread.is_alive()
        assert result == {tid: ExtensionResult(created=10)}
        assert [t.task_id for t in first.tasks(tid)] == list(range(1, 31))
    finally:
        for pool in pools:
            pool.close()

"""Two task managers at once, each with its own engine and connection pool: no file goes into two
tasks, no task id is made twice, no task is submitted twice, whatever the interleaving.

The threads start together (a barrier, no sleeps). On MariaDB and PostgreSQL a second test holds
both reservations open at the same moment: the second task manager must skip the first one's
locked tasks (``SKIP LOCKED``) rather than wait for them or take them.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from tfs_helpers import ALICE, build, catalog_with, spec

from dirac_core.db import Database
from dirac_core.model import FakeClock
from dirac_core.model.transformation import TaskStatus, TransformationFileStatus
from dirac_core.transformation import TransformationSettings, TransformationSystem, task_store

FILES = {f"/demo/f{i:03d}": ["SE-A"] if i % 3 else ["SE-B"] for i in range(120)}
SETTINGS = TransformationSettings(batch_files=6, tasks_per_cycle=4)


def _twice(work: Callable[[int], None]) -> None:
    """Run ``work(0)`` and ``work(1)`` in two threads started together; re-raise what they raised."""
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(worker: int) -> None:
        try:
            barrier.wait(timeout=30)
            work(worker)
        except BaseException as exc:
            barrier.abort()
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a task manager is stuck"
    if errors:
        raise errors[0]


def _managers(database: Database, clock: FakeClock) -> tuple[TransformationSystem, TransformationSystem,
                                                               list[Database]]:
    catalog = catalog_with(FILES)
    own = [Database(database.url), Database(database.url)]  # two processes' pools
    return (build(own[0], clock, catalog=catalog, settings=SETTINGS),
            build(own[1], clock, catalog=catalog, settings=SETTINGS), own)


def test_two_task_managers_never_make_or_submit_a_task_twice(database: Database,
                                                              fake_clock: FakeClock) -> None:
    first, second, pools = _managers(database, fake_clock)
    try:
        tid = first.create(spec(), ALICE).transformation_id
        first.add_files(tid, list(FILES))
        first.start(tid)
        managers = (first, second)
        made: list[list[Any]] = [[], []]

        def split(worker: int) -> None:
            while True:
                result = managers[worker].split(tid)[tid]
                made[worker].append(result)
                assert result.error is None
                if not result.tasks and not result.conflict:
                    return

        _twice(split)
        tasks = first.tasks(tid)
        assert [t.task_id for t in tasks] == list(range(1, 61))
        assert sum(r.tasks for r in made[0] + made[1]) == 60
        in_tasks = Counter(lfn for t in tasks for lfn in t.lfns)
        assert set(in_tasks) == set(FILES) and set(in_tasks.values()) == {1}
        owner = {lfn: t.task_id for t in tasks for lfn in t.lfns}
        assert {(f.status, f.task_id == owner[f.lfn]) for f in first.files(tid)} == {
            (TransformationFileStatus.ASSIGNED, True)}

        submitted: list[int] = [0, 0]

        def submit(worker: int) -> None:
            while True:
                result = managers[worker].submit_tasks(tid)[tid]
                assert result.error is None and not result.failed
                submitted[worker] += result.submitted
                if not result.submitted and not result.released:
                    return

        _twice(submit)
        assert sum(submitted) == 60
        tasks = first.tasks(tid)
        assert {t.status for t in tasks} == {TaskStatus.SUBMITTED}
        assert first.wms is not None
        jobs = first.wms.get_jobs(t.external_id or 0 for t in tasks)
        assert len(jobs) == 60
        assert sorted(job["job_name"] for job in jobs.values()) == sorted(t.name for t in tasks)
        assert all(jobs[t.external_id or 0]["job_name"] == t.name for t in tasks)
    finally:
        for pool in pools:
            pool.close()


@pytest.mark.parametrize("db_url", ["mysql", "postgresql"], indirect=True)
def test_reservations_held_at_once_skip_each_other(database: Database, fake_clock: FakeClock,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    first, second, pools = _managers(database, fake_clock)
    try:
        tid = first.create(spec(), ALICE).transformation_id
        first.add_files(tid, list(FILES)[:16])
        first.start(tid)
        first.split(tid)  # 8 tasks
        real = task_store.reserve
        both_hold = threading.Barrier(2)
        got: dict[int, list[int]] = {}

        def reserve_and_hold(conn: Any, transformation_id: int, limit: int, now: Any, *,
                             skip_locked: bool) -> list[int]:
            ids = real(conn, transformation_id, limit, now, skip_locked=skip_locked)
            got[threading.get_ident()] = ids
            both_hold.wait(timeout=30)  # neither has committed: the other's rows are still locked
            return []  # submit nothing: the reservations are what is under test

        monkeypatch.setattr(task_store, "reserve", reserve_and_hold)
        managers = (first, second)
        _twice(lambda worker: managers[worker].submit_tasks(tid) and None)
        one, other = got.values()
        assert len(one) == len(other) == 4 and not set(one) & set(other)
        assert Counter(t.status for t in first.tasks(tid)) == {TaskStatus.RESERVED: 8}
    finally:
        for pool in pools:
            pool.close()

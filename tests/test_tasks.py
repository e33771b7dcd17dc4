from __future__ import annotations

from datetime import timedelta

import pytest

from dirac_core.db import Database, acquire_lease, get_lease
from dirac_core.model import FakeClock
from dirac_core.plugins import make_plugin_manager
from dirac_core.tasks import TaskOutcome, TaskScheduler


class Counter:
    def __init__(self, name: str = "count", every: float = 60, fail: bool = False) -> None:
        self.name = name
        self.interval = timedelta(seconds=every)
        self.fail = fail
        self.runs = 0

    def run_once(self) -> int:
        self.runs += 1
        if self.fail:
            raise RuntimeError("backend down")
        return self.runs


def scheduler(database: Database, clock: FakeClock, owner: str, *tasks: Counter) -> TaskScheduler:
    return TaskScheduler(database, clock, make_plugin_manager(entry_points=False), tasks, owner=owner)


def test_runs_once_per_interval(database: Database, fake_clock: FakeClock) -> None:
    task = Counter(every=60)
    sched = scheduler(database, fake_clock, "replica-a", task)
    assert sched.run_due()["count"].outcome is TaskOutcome.RAN
    assert sched.run_due()["count"].outcome is TaskOutcome.NOT_DUE
    fake_clock.advance(59)
    assert sched.run_due()["count"].outcome is TaskOutcome.NOT_DUE
    fake_clock.advance(1)
    run = sched.run_due()["count"]
    assert (run.outcome, run.result) == (TaskOutcome.RAN, 2)
    with database.begin() as conn:
        lease = get_lease(conn, "count")
    assert lease is not None and lease.run_count == 2 and lease.last_run_at == fake_clock.now()


def test_two_replicas_share_the_work(database: Database, fake_clock: FakeClock) -> None:
    a, b = Counter(), Counter()
    sched_a = scheduler(database, fake_clock, "replica-a", a)
    sched_b = scheduler(database, fake_clock, "replica-b", b)
    for _ in range(5):
        sched_a.run_due()
        sched_b.run_due()
        fake_clock.advance(60)
    assert a.runs + b.runs == 5


def test_busy_while_another_replica_holds_the_lease(database: Database, fake_clock: FakeClock) -> None:
    with database.begin() as conn:
        assert acquire_lease(conn, "count", "replica-x", fake_clock.now(), 300)
    task = Counter()
    sched = scheduler(database, fake_clock, "replica-a", task)
    assert sched.run_due()["count"].outcome is TaskOutcome.BUSY
    fake_clock.advance(301)  # replica-x died: its lease expires
    assert sched.run_due()["count"].outcome is TaskOutcome.RAN
    assert task.runs == 1


def test_failure_is_reported_and_counted_as_a_run(database: Database, fake_clock: FakeClock) -> None:
    task = Counter(fail=True)
    sched = scheduler(database, fake_clock, "replica-a", task)
    run = sched.run_due()["count"]
    assert run.outcome is TaskOutcome.FAILED
    assert run.error == "RuntimeError: backend down"
    # a failing task is not retried in a hot loop: it waits for its interval
    assert sched.run_due()["count"].outcome is TaskOutcome.NOT_DUE


def test_duplicate_task_name_refused(database: Database, fake_clock: FakeClock) -> None:
    sched = scheduler(database, fake_clock, "r", Counter())
    with pytest.raises(ValueError, match="scheduled already"):
        sched.add(Counter())

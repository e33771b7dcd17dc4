"""Periodic work: small task objects with ``run_once()``, and the scheduler that runs them.

The server runs :meth:`TaskScheduler.run_due` in a loop; a notebook or a test
calls it (or a task's ``run_once``) directly. Several replicas sharing one
database run each task once per interval: a task runs only under a lease
(:mod:`dirac_core.db.leases`) and only when the last run recorded in the
database is older than its interval.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from enum import StrEnum
from typing import Protocol

import pluggy
from attrs import frozen

from dirac_core.db.database import Database
from dirac_core.db.leases import acquire_lease, get_lease, record_run, release_lease
from dirac_core.model.clock import Clock

__all__ = ["PeriodicTask", "TaskOutcome", "TaskRun", "TaskScheduler"]

log = logging.getLogger(__name__)


class PeriodicTask(Protocol):
    """One unit of periodic work (site director cycle, stalled-job scan, ...)."""

    @property
    def name(self) -> str:
        """Unique, stable name; also the lease name."""

    @property
    def interval(self) -> timedelta:
        """How often it should run."""

    def run_once(self) -> object:
        """Do one cycle of work; the return value is reported, not interpreted."""


class TaskOutcome(StrEnum):
    """What happened to a task in one scheduler pass."""

    RAN = "Ran"
    NOT_DUE = "NotDue"
    BUSY = "Busy"  # another replica holds the lease
    FAILED = "Failed"


@frozen
class TaskRun:
    """The outcome of one task in one pass, with its result or error text."""

    outcome: TaskOutcome
    result: object = None
    error: str | None = None


class TaskScheduler:
    """Runs the tasks that are due, each under a database lease."""

    def __init__(self, database: Database, clock: Clock, hooks: pluggy.PluginManager,
                 tasks: Iterable[PeriodicTask], *, owner: str) -> None:
        self._db = database
        self._clock = clock
        self._hooks = hooks
        self._owner = owner
        self.tasks = {t.name: t for t in tasks}

    def add(self, task: PeriodicTask) -> None:
        """Schedule one more task; its name must be new."""
        if task.name in self.tasks:
            raise ValueError(f"a task named {task.name!r} is scheduled already")
        self.tasks[task.name] = task

    def run_due(self) -> dict[str, TaskRun]:
        """Run every task whose interval has passed since its last recorded run."""
        return {name: self._run_if_due(task) for name, task in self.tasks.items()}

    def _run_if_due(self, task: PeriodicTask) -> TaskRun:
        now = self._clock.now()
        with self._db.begin() as conn:
            lease = get_lease(conn, task.name)
            if lease and lease.last_run_at and lease.last_run_at + task.interval > now:
                return TaskRun(TaskOutcome.NOT_DUE)
            # the lease outlives a crashed replica by one interval at most
            if not acquire_lease(conn, task.name, self._owner, now, task.interval):
                return TaskRun(TaskOutcome.BUSY)
        try:
            result = self._hooks.hook.dirac_periodic_task.call_extra(
                [lambda name: task.run_once()], {"name": task.name})
        except Exception as exc:
            log.warning("task %s failed: %s", task.name, exc)
            outcome = TaskRun(TaskOutcome.FAILED, error=f"{type(exc).__name__}: {exc}")
        else:
            outcome = TaskRun(TaskOutcome.RAN, result=result)
        with self._db.begin() as conn:
            end = self._clock.now()
            record_run(conn, task.name, self._owner, end)
            release_lease(conn, task.name, self._owner, end)
        return outcome

"""MC extension: input-less tasks for simulation-like transformations (DIRAC's MCExtensionAgent).

A transformation of an extendable type (``settings.extendable_types``, ``MCSimulation`` by
default) reads no files: its work is a number of tasks, ``max_tasks``. Each cycle, every Active one
with ``max_tasks > 0`` gets :func:`tasks_to_create` new tasks without files, which the task manager
submits like any other (a job from the template, without ``InputData``).

The count is DIRAC's, from the transformation's tasks per status: nothing while more than
``max_failure_rate`` percent of the tasks made have Failed, while Done tasks reach ``max_tasks``,
or while more than ``max_waiting_jobs`` tasks are Waiting; otherwise
``min(tasks_per_iteration, max_tasks - (made - Failed))``: failed tasks are made again.

The counting and the writing happen in one transaction under the transformation's row lock
(``FOR UPDATE``; SQLite serialises writers), and the backends read committed data after the lock
is granted: two extension cycles at once never make more than ``max_tasks`` live tasks between
them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import StrEnum

import attrs

from dirac_core.db.database import Database
from dirac_core.db.tables.transformations import tfs_tasks
from dirac_core.model.clock import Clock
from dirac_core.model.transformation import TaskStatus, TransformationStatus
from dirac_core.plugins.splitters import TaskGroup
from dirac_core.transformation import store, task_store
from dirac_core.transformation.records import TransformationSettings

__all__ = ["ExtensionHold", "ExtensionResult", "TaskExtender", "tasks_to_create"]

log = logging.getLogger(__name__)

_K = TaskStatus


class ExtensionHold(StrEnum):
    """Why an extension cycle made no task."""

    NOT_EXTENDABLE = "NotExtendable"  # not Active, not an extendable type, or no max_tasks
    FAILURE_RATE = "FailureRate"
    DONE = "Done"                     # Done tasks reached max_tasks
    WAITING = "Waiting"               # too many tasks Waiting
    FULL = "Full"                     # max_tasks live tasks exist already


@attrs.frozen(kw_only=True)
class ExtensionResult:
    """One extension cycle of one transformation: the tasks made, or why none was."""

    created: int = 0
    held: ExtensionHold | None = None


def tasks_to_create(max_tasks: int, counts: Mapping[TaskStatus, int], settings: TransformationSettings
                    ) -> tuple[int, ExtensionHold | None]:
    """How many tasks to make now for a transformation with ``max_tasks`` and these tasks per
    status (DIRAC's ``_calculateTaskNumber``), and why none when none."""
    if max_tasks <= 0:
        return 0, ExtensionHold.NOT_EXTENDABLE
    made = sum(counts.values())
    failed = counts.get(_K.FAILED, 0)
    if made and 100.0 * failed / made > settings.max_failure_rate:
        return 0, ExtensionHold.FAILURE_RATE
    if counts.get(_K.DONE, 0) >= max_tasks:
        return 0, ExtensionHold.DONE
    if counts.get(_K.WAITING, 0) > settings.max_waiting_jobs:
        return 0, ExtensionHold.WAITING
    wanted = min(max_tasks - (made - failed), settings.tasks_per_iteration)
    if wanted <= 0:  # someone made tasks by hand beyond max_tasks
        return 0, ExtensionHold.FULL
    return wanted, None


class TaskExtender:
    """Makes the input-less tasks of extendable transformations (see the module docstring)."""

    def __init__(self, *, database: Database, clock: Clock, settings: TransformationSettings) -> None:
        self.database = database
        self.clock = clock
        self.settings = settings

    def extend(self, transformation_id: int) -> ExtensionResult:
        """One extension cycle of one transformation; what it made. The transformation's status,
        type and ``max_tasks`` are read again under its lock: one that left Active meanwhile gets
        nothing."""
        with self.database.begin() as conn:
            row = store.lock(conn, transformation_id)
            if (row.status is not TransformationStatus.ACTIVE
                    or row.type not in self.settings.extendable_types):
                return ExtensionResult(held=ExtensionHold.NOT_EXTENDABLE)
            counts = store.status_counts(conn, tfs_tasks, transformation_id)
            wanted, held = tasks_to_create(row.max_tasks, counts, self.settings)
            if not wanted:
                return ExtensionResult(held=held)
            task_store.write_tasks(conn, transformation_id, row.last_task_id,
                                   [TaskGroup(target_ses=(), lfns=())] * wanted,
                                   file_ids=[()] * wanted, now=self.clock.now())
        log.info("transformation %d: %d tasks made (MC extension)", transformation_id, wanted)
        return ExtensionResult(created=wanted)

"""The task manager's monitoring side: tasks follow their jobs or requests, files their tasks.

Per transformation (:meth:`TaskMonitor.monitor`), the tasks that are submitted and not final, not
looked at for ``monitor_delay``, longest unchecked first, ``monitor_chunk`` at a time:

- a processing task takes its job's status; a job that no longer exists fails the task. Its files
  still Assigned to it become Processed when the job is Done or Completed, Unused (error count up,
  MaxReset after too many resets) when it is Failed, Killed, Deleted or gone;
- a data task takes its request's status (Assigned is ignored: an executor holds the request for
  a moment). Only a final request settles the files: a file Done in every operation of the
  request is Processed, any other Problematic.

Task and file changes of one transformation are written together, under its lock.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING

from dirac_core.db.database import Database
from dirac_core.errors import InvalidTransition
from dirac_core.model.clock import Clock
from dirac_core.model.job import JobStatus
from dirac_core.model.request import FINAL_REQUEST, RequestFileStatus, RequestStatus
from dirac_core.model.status import check_transition
from dirac_core.model.transformation import (
    FINAL_TASK,
    TASK_TRANSITIONS,
    TaskStatus,
    TransformationFileStatus,
    task_status_of_job,
    task_status_of_request,
)
from dirac_core.transformation import file_store, task_store
from dirac_core.transformation.records import Transformation, TransformationSettings
from dirac_core.transformation.store import lock

if TYPE_CHECKING:
    from dirac_core.rms.store import RequestStore
    from dirac_core.wms.engine import WorkloadManager

__all__ = ["MONITORED", "TaskMonitor"]

log = logging.getLogger(__name__)

_K = TaskStatus
_F = TransformationFileStatus
#: the task statuses the monitor follows
MONITORED = frozenset(s for s in TaskStatus if s not in FINAL_TASK and s not in (_K.CREATED, _K.RESERVED))
_JOB_PROCESSED = frozenset({_K.DONE, _K.COMPLETED})
_JOB_RETRY = frozenset({_K.FAILED, _K.KILLED, _K.DELETED})

#: per task: one status for all its files, or a status per LFN (and one for the others)
FileOutcome = tuple[TransformationFileStatus, Mapping[str, TransformationFileStatus]]


class TaskMonitor:
    """Follows submitted tasks (see the module docstring)."""

    def __init__(self, *, database: Database, clock: Clock, settings: TransformationSettings,
                 wms: WorkloadManager | None, requests: RequestStore | None) -> None:
        self.database = database
        self.clock = clock
        self.settings = settings
        self.wms = wms
        self.requests = requests

    def monitor(self, transformation: Transformation, *, delay: timedelta | None = None
                ) -> dict[TaskStatus, int]:
        """One monitoring cycle of ``transformation``: how many tasks moved to each status.
        ``delay``: look at tasks unchecked for that long (default: the settings' ``monitor_delay``)."""
        processing = transformation.type in self.settings.processing_types
        if (self.wms if processing else self.requests) is None:
            return {}
        tid = transformation.transformation_id
        now = self.clock.now()
        with self.database.begin(read_only=True) as conn:
            wait = self.settings.monitor_delay if delay is None else delay
            tasks = task_store.tasks_to_check(conn, tid, MONITORED, now - wait,
                                              self.settings.monitor_chunk)
        if not tasks:
            return {}
        if processing:
            statuses, outcomes = self._jobs(tasks)
        else:
            statuses, outcomes = self._requests(tasks)
        changes: dict[int, tuple[TaskStatus, int | None]] = {}
        for task_id, current, _ in tasks:
            new = statuses[task_id]
            if new is current:
                continue
            try:
                check_transition(TASK_TRANSITIONS, current, new, subject=f"task {tid}/{task_id}")
            except InvalidTransition as exc:
                log.warning("%s", exc)
                outcomes.pop(task_id, None)
                continue
            changes[task_id] = (new, None)
        self._write(tid, tasks, changes, outcomes)
        moved: dict[TaskStatus, int] = {}
        for status, _ in changes.values():
            moved[status] = moved.get(status, 0) + 1
        return moved

    def _jobs(self, tasks: Sequence[tuple[int, TaskStatus, int | None]]
              ) -> tuple[dict[int, TaskStatus], dict[int, FileOutcome]]:
        assert self.wms is not None
        jobs = self.wms.get_jobs([external for _, _, external in tasks if external is not None])
        statuses: dict[int, TaskStatus] = {}
        outcomes: dict[int, FileOutcome] = {}
        for task_id, _, external in tasks:
            job = jobs.get(external) if external is not None else None
            status = task_status_of_job(JobStatus(job["status"]) if job is not None else None)
            statuses[task_id] = status
            if status in _JOB_PROCESSED:
                outcomes[task_id] = (_F.PROCESSED, {})
            elif status in _JOB_RETRY:
                outcomes[task_id] = (_F.UNUSED, {})
        return statuses, outcomes

    def _requests(self, tasks: Sequence[tuple[int, TaskStatus, int | None]]
                  ) -> tuple[dict[int, TaskStatus], dict[int, FileOutcome]]:
        assert self.requests is not None
        ids = [external for _, _, external in tasks if external is not None]
        known = self.requests.status(ids)
        final = [request_id for request_id, status in known.items() if status in FINAL_REQUEST]
        whole = self.requests.get(final).ok if final else {}
        statuses: dict[int, TaskStatus] = {}
        outcomes: dict[int, FileOutcome] = {}
        for task_id, current, external in tasks:
            request_status = known.get(external) if external is not None else None
            statuses[task_id] = task_status_of_request(request_status, current)
            if request_status is None:
                outcomes[task_id] = (_F.UNUSED, {})
            elif external in whole:
                done: dict[str, bool] = {}
                for op in whole[external].operations:
                    for f in op.files:
                        done[f.lfn] = done.get(f.lfn, True) and f.status is RequestFileStatus.DONE
                default = _F.PROCESSED if request_status is RequestStatus.DONE else _F.PROBLEMATIC
                outcomes[task_id] = (default, {lfn: _F.PROCESSED if ok else _F.PROBLEMATIC
                                               for lfn, ok in done.items()})
        return statuses, outcomes

    def _write(self, tid: int, tasks: Sequence[tuple[int, TaskStatus, int | None]],
               changes: Mapping[int, tuple[TaskStatus, int | None]],
               outcomes: Mapping[int, FileOutcome]) -> None:
        now = self.clock.now()
        with self.database.begin() as conn:
            lock(conn, tid)
            seen = {task_id: current for task_id, current, _ in tasks}
            by_status: dict[TaskStatus, dict[int, tuple[TaskStatus, int | None]]] = {}
            for task_id, change in changes.items():
                by_status.setdefault(seen[task_id], {})[task_id] = change
            for status, group in by_status.items():  # each only if still in the status it was seen in
                task_store.change_status(conn, tid, group, expected=(status,), now=now)
            task_store.touch(conn, tid, [task_id for task_id, _, _ in tasks if task_id not in changes], now)
            if outcomes:
                rows = file_store.task_files(conn, tid, list(outcomes))
                requests = []
                for row in rows:
                    default, per_file = outcomes[row.task_id]
                    requests.append((row, per_file.get(row.lfn, default)))
                file_store.apply_transitions(conn, requests, force=False, max_reset=self.settings.max_reset,
                                             now=now)

"""The task manager's submitting side: Created tasks become WMS jobs or requests.

Per transformation (:meth:`TaskSubmitter.submit`):

1. reserve up to ``tasks_per_cycle`` Created tasks (Reserved, ``SKIP LOCKED``: two task managers
   at once never reserve the same task, so never submit it twice);
2. build each task's job (processing types) or request (data types), see
   :mod:`dirac_core.transformation.bodies`;
3. submit them as the transformation's author (an identity built from the registry): jobs in one
   WMS call (one by one if that call fails, to find the bad one), requests in one store call;
4. record the outcome under the transformation's lock: Submitted with the job or request id; a
   task that cannot become a job or request (its description, its destination) Failed, its files
   back to Unused with their error count up; a task hit by a passing failure (the database, the
   author's identity) back to Created for the next cycle.

A task manager that dies between 3 and 4 leaves its tasks Reserved: :meth:`TaskSubmitter.recover`
finds tasks Reserved for longer than ``reserved_timeout`` and looks each up by name in the WMS or
the request store: found, it is Submitted with that id; not found, Created again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from dirac_core.authorization import Action, require
from dirac_core.config import Config
from dirac_core.db.database import Database
from dirac_core.errors import (
    DiracError,
    InvalidRequest,
    InvalidTransformation,
    JDLError,
    NotFound,
    PermissionDenied,
)
from dirac_core.model.clock import Clock
from dirac_core.model.identity import Identity
from dirac_core.model.transformation import TaskStatus, TransformationFileStatus
from dirac_core.transformation import bodies, file_store, task_store
from dirac_core.transformation.records import Task, Transformation, TransformationSettings
from dirac_core.transformation.store import lock

if TYPE_CHECKING:
    from dirac_core.rms.store import RequestStore
    from dirac_core.wms.engine import WorkloadManager

__all__ = ["SubmitResult", "TaskSubmitter", "author_identity"]

log = logging.getLogger(__name__)

_K = TaskStatus
#: errors that submitting the same task again would meet again
_PERMANENT = (JDLError, InvalidRequest, InvalidTransformation, NotFound, PermissionDenied)


@attrs.frozen(kw_only=True)
class SubmitResult:
    """One submission cycle of one transformation: tasks submitted, failed for good, put back."""

    submitted: int = 0
    failed: int = 0
    released: int = 0
    error: str | None = None


def author_identity(config: Config, transformation: Transformation) -> Identity:
    """The identity of the transformation's author in its group, from the registry;
    ``PermissionDenied`` when the author is gone or no longer in the group."""
    registry = config.registry
    user, group = transformation.author, registry.groups.get(transformation.author_group)
    if user not in registry.users or group is None or user not in group.users:
        raise PermissionDenied(f"{user}@{transformation.author_group} is not in the registry's group",
                               user=user, group=transformation.author_group)
    return Identity(user=user, group=group.name, vo=group.vo, properties=group.properties)


class TaskSubmitter:
    """Submits and recovers tasks (see the module docstring). ``wms`` and ``requests`` may be None:
    tasks of the kind they would take are then left alone."""

    def __init__(self, *, database: Database, clock: Clock, config: Config, settings: TransformationSettings,
                 wms: WorkloadManager | None, requests: RequestStore | None) -> None:
        self.database = database
        self.clock = clock
        self.config = config
        self.settings = settings
        self.wms = wms
        self.requests = requests

    def _processing(self, transformation: Transformation) -> bool:
        return transformation.type in self.settings.processing_types

    def ready(self, transformation: Transformation) -> bool:
        """Whether this task manager can submit the tasks of ``transformation``."""
        return (self.wms if self._processing(transformation) else self.requests) is not None

    # -- submitting -----------------------------------------------------------------------

    def submit(self, transformation: Transformation) -> SubmitResult:
        """One submission cycle for ``transformation`` (whatever its status and agent type)."""
        if not self.ready(transformation):
            return SubmitResult()
        tid = transformation.transformation_id
        with self.database.begin() as conn:
            ids = task_store.reserve(conn, tid, self.settings.tasks_per_cycle, self.clock.now(),
                                     skip_locked=self.database.supports_skip_locked)
        if not ids:
            return SubmitResult()
        with self.database.begin(read_only=True) as conn:
            tasks = task_store.read_tasks(conn, tid, task_ids=ids)
        try:
            identity = author_identity(self.config, transformation)
            if self._processing(transformation):
                outcomes = self._submit_jobs(transformation, tasks, identity)
            else:
                outcomes = self._submit_requests(transformation, tasks)
        except Exception as exc:
            log.warning("transformation %d: %d tasks not submitted: %s", tid, len(tasks), exc)
            self._record(tid, {}, {}, [task.task_id for task in tasks])
            return SubmitResult(released=len(tasks), error=str(exc))
        submitted = {task_id: value for task_id, value in outcomes.items() if isinstance(value, int)}
        failed = {task_id: value for task_id, value in outcomes.items() if isinstance(value, _PERMANENT)}
        released = [task_id for task_id in outcomes if task_id not in submitted and task_id not in failed]
        for task_id, error in failed.items():
            log.warning("transformation %d, task %d failed: %s", tid, task_id, error)
        self._record(tid, submitted, failed, released)
        return SubmitResult(submitted=len(submitted), failed=len(failed), released=len(released))

    def _submit_jobs(self, transformation: Transformation, tasks: Sequence[Task],
                     identity: Identity) -> dict[int, int | Exception]:
        assert self.wms is not None
        require(identity, Action.JOB_SUBMIT)
        template = bodies.parse_template(transformation.body)
        se_sites = self.config.resources.site_of_se()
        out: dict[int, int | Exception] = {}
        ads: dict[int, Any] = {}
        for task in tasks:
            try:
                ads[task.task_id] = bodies.job_for_task(template, transformation, task, se_sites)
            except DiracError as exc:
                out[task.task_id] = exc
        if not ads:
            return out
        try:
            jobs = self.wms.submit(list(ads.values()), identity)
        except DiracError:  # all or nothing, and nothing was: find the ones that fail
            for task_id, ad in ads.items():
                try:
                    out[task_id] = self.wms.submit([ad], identity)[0].job_id
                except Exception as exc:  # recorded per task: the others may be submitted already
                    out[task_id] = exc
            return out
        out.update((task_id, job.job_id) for task_id, job in zip(ads, jobs, strict=True))
        return out

    def _submit_requests(self, transformation: Transformation,
                         tasks: Sequence[Task]) -> dict[int, int | Exception]:
        assert self.requests is not None
        out: dict[int, int | Exception] = {}
        built: dict[int, Any] = {}
        for task in tasks:
            try:
                built[task.task_id] = bodies.request_for_task(transformation, task, self.requests.types)
            except DiracError as exc:
                out[task.task_id] = exc
        result = self.requests.submit(list(built.values()))
        for position, task_id in enumerate(built):
            out[task_id] = result.ok[position] if position in result.ok else result.failed[position]
        return out

    def _record(self, tid: int, submitted: Mapping[int, int], failed: Mapping[int, Exception],
                released: Sequence[int]) -> None:
        now = self.clock.now()
        with self.database.begin() as conn:
            lock(conn, tid)
            changes: dict[int, tuple[TaskStatus, int | None]] = {
                **{task_id: (_K.SUBMITTED, external) for task_id, external in submitted.items()},
                **dict.fromkeys(failed, (_K.FAILED, None)),
                **dict.fromkeys(released, (_K.CREATED, None))}
            task_store.change_status(conn, tid, changes, expected=(_K.RESERVED,), now=now)
            if failed:
                rows = file_store.task_files(conn, tid, list(failed))
                file_store.apply_transitions(conn, [(row, TransformationFileStatus.UNUSED) for row in rows],
                                             force=False, max_reset=self.settings.max_reset, now=now)

    # -- recovering lost reservations -------------------------------------------------------

    def recover(self, transformations: Mapping[int, Transformation]) -> dict[int, tuple[int, int]]:
        """Tasks Reserved for longer than ``reserved_timeout``, looked up by name; per
        transformation, (found and marked Submitted, put back to Created)."""
        cutoff = self.clock.now() - self.settings.reserved_timeout
        with self.database.begin(read_only=True) as conn:
            stuck = task_store.stuck_reserved(conn, cutoff, transformation_ids=list(transformations))
        out: dict[int, tuple[int, int]] = {}
        for tid, task_ids in stuck.items():
            transformation = transformations[tid]
            if not self.ready(transformation):
                continue
            names = {transformation.task_name(task_id): task_id for task_id in task_ids}
            found = (self._jobs_named(tid, list(names)) if self._processing(transformation)
                     else self._requests_named(list(names)))
            changes = {task_id: ((_K.SUBMITTED, found[name]) if name in found else (_K.CREATED, None))
                       for name, task_id in names.items()}
            with self.database.begin() as conn:
                lock(conn, tid)
                task_store.change_status(conn, tid, changes, expected=(_K.RESERVED,), now=self.clock.now())
            out[tid] = (len(found), len(names) - len(found))
        return out

    def _requests_named(self, names: list[str]) -> dict[str, int]:
        assert self.requests is not None
        return self.requests.ids_by_name(names)

    def _jobs_named(self, tid: int, names: list[str]) -> dict[str, int]:
        assert self.wms is not None
        found: dict[str, int] = {}
        for start in range(0, len(names), 1000):
            page = self.wms.search(["JobID", "JobName"], [
                {"parameter": "JobGroup", "operator": "eq", "value": f"{tid:08d}"},
                {"parameter": "JobName", "operator": "in", "values": names[start:start + 1000]}],
                sort=[{"parameter": "JobID", "direction": "asc"}], per_page=10_000)
            found.update((row["JobName"], int(row["JobID"])) for row in page.rows)  # the last one wins
        return found


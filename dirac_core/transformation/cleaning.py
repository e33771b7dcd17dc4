"""Cleaning, output removal and archiving of transformations (DIRAC's TransformationCleaningAgent).

One cycle (:meth:`TransformationCleaner.run`) looks at three kinds of transformation, in DIRAC's
order:

- **Cleaning**: its jobs are deleted from the WMS (``delete`` with ``force``: the active ones are
  killed first, their pilots told) with the failover requests of those jobs canceled, or its
  requests canceled (data types); its outputs are removed; then its files and tasks are forgotten
  and it is **Cleaned**.
- **RemovingFiles**: its outputs are removed, except the log directories (``/LOG/`` in the path);
  its jobs are left alone; then it is **Completed**. DIRAC writes ``RemovedFiles``, a status outside
  its own status list that no agent reads; Completed keeps the table closed and lets the archiving
  rule below apply later.
- **Completed** and not updated for ``settings.archive_after`` (7 days): like DIRAC's archiving,
  its jobs are deleted and its requests canceled (not its outputs), its files and tasks are
  forgotten, and it is **Archived**.

**Outputs** (:func:`output_directories`, :meth:`TransformationCleaner.outputs`) are, as in
DIRAC, every file the catalog holds under the directories of the ``OutputDirectories`` parameter
(a list, or one path) that name the transformation (``%08d`` of its id in the path: a parameter set
by mistake to ``/vo`` removes nothing), together with every file whose metadata
``settings.id_metadata`` (``TransformationID``) is the transformation's id. They are removed
through the data manager acting as the transformation's author (replicas on the SEs, then the
catalog entry), so the catalog's permissions apply.

A cycle that cannot finish (a file that could not be removed, a job or request the WMS or the
request store refused, an author no longer in the registry) leaves the transformation where it is,
logs why at error level with the number of consecutive failed cycles, and the next cycle tries
again from the start: nothing is forgotten before everything is gone. A task still being submitted
(Reserved, or submitted after this cycle deleted the jobs it knew) also defers the end to the
next cycle, so that no job outlives the transformation's records.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import attrs
from sqlalchemy import update

from dirac_core.config import Config
from dirac_core.db.database import Database
from dirac_core.db.tables.transformations import tfs_transformations
from dirac_core.errors import DiracError, InvalidTransition, NotFound
from dirac_core.model.clock import Clock
from dirac_core.model.identity import Identity
from dirac_core.model.lfn import normalize_lfn
from dirac_core.model.status import check_transition
from dirac_core.model.transformation import TRANSFORMATION_TRANSITIONS, TaskStatus, TransformationStatus
from dirac_core.plugins.catalog import Catalog
from dirac_core.transformation import inputs, store, task_store
from dirac_core.transformation.records import Transformation, TransformationSettings
from dirac_core.transformation.submission import author_identity

if TYPE_CHECKING:
    from dirac_core.dms.manager import DataManager
    from dirac_core.rms.store import RequestStore
    from dirac_core.wms.engine import WorkloadManager

__all__ = ["CLEANER_STATUSES", "CleaningAction", "CleaningResult", "TransformationCleaner",
           "output_directories"]

log = logging.getLogger(__name__)

_T = TransformationStatus
#: the statuses a cleaning cycle looks at
CLEANER_STATUSES = frozenset({_T.CLEANING, _T.REMOVING_FILES, _T.COMPLETED})
#: the parameter naming a transformation's output directories (DIRAC's)
OUTPUT_DIRECTORIES = "OutputDirectories"
_CHUNK = 500
_SHOWN_ERRORS = 20


class CleaningAction(StrEnum):
    """What a cleaning cycle did to a transformation."""

    CLEAN = "Clean"                # Cleaning -> Cleaned
    REMOVE_FILES = "RemoveFiles"   # RemovingFiles -> Completed
    ARCHIVE = "Archive"            # Completed (old) -> Archived


@attrs.frozen(kw_only=True)
class CleaningResult:
    """One cleaning cycle of one transformation.

    ``jobs`` deleted, ``requests`` canceled, output ``files`` removed and ``failed`` (not removed);
    ``status`` the status it reached (None: it stays, to be tried again); ``attempts`` how many
    cycles in a row have failed for it in this process (0 when this one did not); ``errors`` why
    (the first few); ``unsettled`` tasks still being submitted, which defer the end.
    """

    action: CleaningAction
    jobs: int = 0
    requests: int = 0
    files: int = 0
    failed: int = 0
    status: TransformationStatus | None = None
    attempts: int = 0
    errors: tuple[str, ...] = ()
    unsettled: int = 0


def output_directories(transformation: Transformation, *, logs: bool = True) -> tuple[list[str], list[str]]:
    """The output directories the ``OutputDirectories`` parameter names, canonical and sorted, and
    the ignored entries with why. Only directories whose path holds the transformation's ``%08d``
    id are kept (DIRAC's rule); ``logs`` False leaves out log directories (``/LOG/``).
    ``ValueError`` when the parameter is neither a path nor a list of paths."""
    value = transformation.parameters.get(OUTPUT_DIRECTORIES)
    if value is None or value == "":
        return [], []
    if isinstance(value, str) and value.strip().startswith("["):
        value = json.loads(value)
    items: list[Any] = [value] if isinstance(value, str) else value if isinstance(value, list) else [None]
    if not all(isinstance(item, str) for item in items):
        raise ValueError(f"{OUTPUT_DIRECTORIES} must be a path or a list of paths, got {value!r}")
    tag = f"{transformation.transformation_id:08d}"
    kept: set[str] = set()
    ignored: list[str] = []
    for item in items:
        try:
            path = normalize_lfn(item)
        except DiracError as exc:
            ignored.append(f"{item!r}: {exc}")
            continue
        if tag not in path:
            ignored.append(f"{path}: does not name transformation {tag}")
        elif logs or "/LOG/" not in f"{path}/":
            kept.add(path)
    return sorted(kept), ignored


class _Cycle:
    """What one transformation's cycle gathers: counts and errors."""

    def __init__(self) -> None:
        self.jobs = self.requests = self.files = self.failed = 0
        self.errors: list[str] = []
        #: job or request ids dealt with (deleted, canceled, final already or gone)
        self.handled: set[int] = set()


class TransformationCleaner:
    """Runs the cleaning cycles (see the module docstring). ``wms``, ``requests``, ``catalog`` and
    ``data_manager`` may be None: a transformation that needs the missing one stays where it is,
    with that said in its result."""

    def __init__(self, *, database: Database, clock: Clock, config: Config, settings: TransformationSettings,
                 wms: WorkloadManager | None, requests: RequestStore | None, catalog: Catalog | None,
                 data_manager: Callable[[Identity], DataManager] | None) -> None:
        self.database = database
        self.clock = clock
        self.config = config
        self.settings = settings
        self.wms = wms
        self.requests = requests
        self.catalog = catalog
        self.data_manager = data_manager
        self._failures: dict[int, int] = {}
        self._lock = threading.Lock()

    def run(self, transformations: Iterable[Transformation]) -> dict[int, CleaningResult]:
        """One cycle over ``transformations`` (those not in :data:`CLEANER_STATUSES`, and Completed
        ones updated less than ``archive_after`` ago, are skipped): per transformation acted on,
        what was done. A failure is in the result, never raised."""
        cutoff = self.clock.now() - self.settings.archive_after
        chosen = [t for t in transformations if t.status in (_T.CLEANING, _T.REMOVING_FILES)
                  or (t.status is _T.COMPLETED and t.updated <= cutoff)]
        order = {_T.CLEANING: 0, _T.REMOVING_FILES: 1, _T.COMPLETED: 2}
        out: dict[int, CleaningResult] = {}
        for t in sorted(chosen, key=lambda t: (order[t.status], t.transformation_id)):
            try:
                out[t.transformation_id] = self._one(t)
            except Exception as exc:  # one transformation must not stop the others
                log.exception("transformation %d: cleaning cycle failed", t.transformation_id)
                action = {_T.CLEANING: CleaningAction.CLEAN, _T.REMOVING_FILES: CleaningAction.REMOVE_FILES,
                          _T.COMPLETED: CleaningAction.ARCHIVE}[t.status]
                out[t.transformation_id] = CleaningResult(action=action, attempts=self._count_failure(
                    t.transformation_id), errors=(f"{type(exc).__name__}: {exc}",))
        return out

    def _one(self, t: Transformation) -> CleaningResult:
        cycle = _Cycle()
        if t.status is _T.CLEANING:
            action, target, forget = CleaningAction.CLEAN, _T.CLEANED, True
            self._remove_tasks(t, cycle)
            self._remove_outputs(t, cycle, logs=True)
        elif t.status is _T.REMOVING_FILES:
            action, target, forget = CleaningAction.REMOVE_FILES, _T.COMPLETED, False
            self._remove_outputs(t, cycle, logs=False)
        else:
            action, target, forget = CleaningAction.ARCHIVE, _T.ARCHIVED, True
            self._remove_tasks(t, cycle)
        tid = t.transformation_id
        if cycle.errors:
            attempts = self._count_failure(tid)
            log.error("transformation %d: %s not finished, cycle %d in a row that failed (%d files not "
                      "removed): %s", tid, action.value, attempts, cycle.failed, "; ".join(cycle.errors[:5]))
            shown = cycle.errors[:_SHOWN_ERRORS]
            if len(cycle.errors) > _SHOWN_ERRORS:
                shown.append(f"... and {len(cycle.errors) - _SHOWN_ERRORS} more")
            return CleaningResult(action=action, jobs=cycle.jobs, requests=cycle.requests, files=cycle.files,
                                  failed=cycle.failed, attempts=attempts, errors=tuple(shown))
        reached, unsettled = self._finish(t, target, forget=forget, handled=cycle.handled)
        if unsettled:
            log.info("transformation %d: %d tasks are being submitted; %s finishes next cycle", tid,
                     unsettled, action.value)
        with self._lock:
            self._failures.pop(tid, None)
        if reached is not None:
            log.info("transformation %d: %s", tid, reached.value)
        return CleaningResult(action=action, jobs=cycle.jobs, requests=cycle.requests, files=cycle.files,
                              failed=cycle.failed, status=reached, unsettled=unsettled)

    def _count_failure(self, tid: int) -> int:
        with self._lock:
            self._failures[tid] = self._failures.get(tid, 0) + 1
            return self._failures[tid]

    # -- tasks: jobs and requests ----------------------------------------------------------

    def _remove_tasks(self, t: Transformation, cycle: _Cycle) -> None:
        tid = t.transformation_id
        with self.database.begin(read_only=True) as conn:
            tasks = task_store.read_tasks(conn, tid, inputs=False)
        known = {task.external_id for task in tasks if task.external_id is not None}
        if t.type in self.settings.processing_types:
            if self.wms is None:
                if known:
                    cycle.errors.append("no WMS to delete its jobs with")
                return
            self._delete_jobs(t, known | self._jobs_of(t), cycle)
            return
        if self.requests is None:
            if known:
                cycle.errors.append("no request store to cancel its requests in")
            return
        lost = [t.task_name(task.task_id) for task in tasks if task.status is TaskStatus.RESERVED]
        ids = known | set(self.requests.ids_by_name(lost).values()) if lost else known
        cycle.requests += self._cancel(sorted(ids), cycle)

    def _jobs_of(self, t: Transformation) -> set[int]:
        """The author's jobs in the transformation's job group named like its tasks, found in the
        WMS (the jobs of tasks whose submission was not recorded, or already forgotten)."""
        assert self.wms is not None
        group, after = f"{t.transformation_id:08d}", 0
        found: set[int] = set()
        while True:
            page = self.wms.search(["JobID", "JobName"], [
                {"parameter": "JobGroup", "operator": "eq", "value": group},
                {"parameter": "Status", "operator": "neq", "value": "Deleted"}],
                per_page=10_000, owner=t.author, after_job_id=after)
            found.update(int(row["JobID"]) for row in page.rows
                         if str(row["JobName"] or "").startswith(f"{group}_"))
            if len(page.rows) < 10_000:
                return found
            after = int(page.rows[-1]["JobID"])

    def _delete_jobs(self, t: Transformation, job_ids: set[int], cycle: _Cycle) -> None:
        assert self.wms is not None
        ids = sorted(job_ids)
        for start in range(0, len(ids), _CHUNK):
            part = ids[start:start + _CHUNK]
            result = self.wms.delete(part, force=True)  # active jobs are killed first
            cycle.jobs += len(result.ok)
            cycle.handled.update(result.ok)
            for job_id, error in result.failed.items():
                if isinstance(error, NotFound):
                    cycle.handled.add(job_id)
                else:
                    cycle.errors.append(f"job {job_id}: {error}")
        if self.requests is not None and ids:  # the failover requests of its jobs
            failover = sorted({r for found in self.requests.for_jobs(ids).values() for r in found})
            cycle.requests += self._cancel(failover, cycle, own=False)

    def _cancel(self, request_ids: Sequence[int], cycle: _Cycle, *, own: bool = True) -> int:
        """Cancel requests; a final one or a missing one is dealt with already. How many were."""
        assert self.requests is not None
        canceled = 0
        for start in range(0, len(request_ids), _CHUNK):
            result = self.requests.cancel(request_ids[start:start + _CHUNK])
            canceled += len(result.ok)
            handled = set(result.ok)
            for request_id, error in result.failed.items():
                if isinstance(error, (NotFound, InvalidTransition)):
                    handled.add(request_id)
                else:
                    cycle.errors.append(f"request {request_id}: {error}")
            if own:
                cycle.handled.update(handled)
        return canceled

    # -- outputs ---------------------------------------------------------------------------

    def outputs(self, t: Transformation, *, logs: bool = True) -> tuple[list[str], list[str]]:
        """The LFNs of ``t``'s outputs the catalog holds now (see the module docstring), sorted, and
        what prevented finding some (a directory that could not be listed, a bad parameter)."""
        errors: list[str] = []
        try:
            roots, ignored = output_directories(t, logs=logs)
        except ValueError as exc:
            return [], [str(exc)]
        for entry in ignored:
            log.warning("transformation %d: %s ignored: %s", t.transformation_id, OUTPUT_DIRECTORIES, entry)
        if self.catalog is None:
            return [], ["no file catalog to find its outputs in"] if roots else []
        found: set[str] = set()
        pending = list(roots)
        while pending:
            batch, pending = pending[:_CHUNK], pending[_CHUNK:]
            listed = self.catalog.list_directory(batch)
            for path, error in listed.failed.items():
                if not isinstance(error, NotFound):  # a directory that is not there holds nothing
                    errors.append(f"{path}: cannot list: {error}")
            for listing in listed.ok.values():
                found.update(listing.files)
                pending.extend(listing.subdirectories)
        found.update(self._tagged(t, errors))
        return sorted(found), errors

    def _tagged(self, t: Transformation, errors: list[str]) -> list[str]:
        """The files whose ``id_metadata`` is the transformation's id (none when the catalog has no
        such field: no file can carry it)."""
        field = self.settings.id_metadata
        fields, _ = inputs.query_fields(self.catalog)
        if field not in fields:
            return []
        assert self.catalog is not None  # a catalog with no fields was answered above
        tid = t.transformation_id
        value: int | str = tid if fields[field] in ("int", "float") else str(tid)
        try:
            return inputs.matching_files(self.catalog, {field: value})
        except DiracError as exc:
            errors.append(f"files with {field}={value}: {exc}")
            return []

    def _remove_outputs(self, t: Transformation, cycle: _Cycle, *, logs: bool) -> None:
        lfns, errors = self.outputs(t, logs=logs)
        cycle.errors.extend(errors)
        if not lfns:
            return
        if self.data_manager is None:
            cycle.failed += len(lfns)
            cycle.errors.append(f"{len(lfns)} output files and no data manager to remove them with")
            return
        try:
            manager = self.data_manager(author_identity(self.config, t))
        except DiracError as exc:
            cycle.failed += len(lfns)
            cycle.errors.append(f"no data manager for the author: {exc}")
            return
        for start in range(0, len(lfns), _CHUNK):
            result = manager.remove_file(lfns[start:start + _CHUNK])
            cycle.files += len(result.ok)
            cycle.failed += len(result.failed)
            cycle.errors.extend(f"{lfn}: {error}" for lfn, error in result.failed.items())

    # -- the end ---------------------------------------------------------------------------

    def _finish(self, t: Transformation, target: TransformationStatus, *, forget: bool,
                handled: set[int]) -> tuple[TransformationStatus | None, int]:
        """Under the transformation's lock: if it is still in the status this cycle saw (and, for
        archiving, still not updated since), forget its files and tasks when ``forget`` and move it to
        ``target``. Returns the status reached (None: not moved) and the tasks still being
        submitted (Reserved, or with a job or request this cycle did not deal with), which leave it
        as it is."""
        tid = t.transformation_id
        now = self.clock.now()
        with self.database.begin() as conn:
            row = store.lock(conn, tid)
            if row.status is not t.status or (t.status is _T.COMPLETED and row.updated != t.updated):
                return None, 0  # changed meanwhile: the next cycle sees what it is now
            if forget:
                tasks = task_store.read_tasks(conn, tid, inputs=False)
                unsettled = sum(1 for task in tasks if task.status is TaskStatus.RESERVED
                                or (task.external_id is not None and task.external_id not in handled))
                if unsettled:
                    return None, unsettled
                store.delete_contents(conn, [tid])
            check_transition(TRANSFORMATION_TRANSITIONS, row.status, target, subject=f"transformation {tid}")
            conn.execute(update(tfs_transformations).where(tfs_transformations.c.transformation_id == tid)
                         .values(status=target, updated=now))
        return target, 0

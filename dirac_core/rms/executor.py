"""The request executor: due requests, run operation by operation through their handlers.

One cycle (:meth:`RequestExecutor.run_once`):

1. the requests this executor still works on are touched (so the cleaning task does not take
   them for stuck), and up to ``requests_per_cycle`` minus those are picked (Assigned; on
   MariaDB and PostgreSQL ``SKIP LOCKED``, so executors sharing a database never take the same
   request);
2. each picked request takes a slot at every target SE its current operation touches (a
   registration, which only names its SE, takes none); a request
   whose target already has ``max_in_flight_per_se`` operations in flight is given back
   untouched for the next cycle, so one slow site never holds every thread (DIRAC#8306);
3. the others run in a thread pool of ``threads`` workers. For each request, as its owner
   (unknown owner: every file and operation fails): the current operation's SEs are checked
   (an SE unknown to the configuration fails the files; one that refuses the access now delays
   the request ``banned_delay``, untouched); an attempt is counted on every waiting file (past
   ``max_attempts`` a file fails with ``(Max attempts limit reached)`` after its last error:
   never an endless loop); the handler runs; statuses roll up; the next operation runs at once
   when the current one is over and its targets have free slots. A handler that raises leaves
   the request Waiting with the error;
4. the request is put back (roll-up, DIRAC's back-off); a final one finalizes its job (all of
   the job's requests over: :class:`~dirac_core.rms.job_finalization.JobFinalizer`) and
   calls the ``dirac_request_done`` hook.

With ``wait=True`` (the default) :meth:`~RequestExecutor.run_once` returns when the requests it
started are put back; the periodic task passes ``wait=False`` so that a slow transfer never
holds the server's task loop, and the requests still running carry over to the next cycles.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

from dirac_core.config.requests import RequestSettings
from dirac_core.dms.manager import DataManager
from dirac_core.dms.storage_element import StorageElements
from dirac_core.errors import DiracError
from dirac_core.model.clock import Clock
from dirac_core.model.identity import Identity
from dirac_core.model.request import FINAL_REQUEST, OperationStatus, RequestFileStatus, RequestStatus
from dirac_core.plugins.catalog import Catalog
from dirac_core.plugins.operations import HandlerContext, OperationHandler
from dirac_core.rms.admission import TargetSlots, check_storage
from dirac_core.rms.follow_up import FollowUpOperations
from dirac_core.rms.job_finalization import JobFinalizer
from dirac_core.rms.request import Operation, Request, roll_up
from dirac_core.rms.store import RequestStore

if TYPE_CHECKING:
    from dirac_core.wms.engine import WorkloadManager

__all__ = ["CycleReport", "RequestExecutor"]

log = logging.getLogger(__name__)

MAX_ATTEMPTS_NOTE = "(Max attempts limit reached)"


@attrs.define
class CycleReport:
    """One cycle: how many requests it picked, which it started, which it gave back because a
    target SE was saturated, and (when it waited) the status each started one was put back in."""

    picked: int = 0
    started: list[int] = attrs.field(factory=list)
    deferred: list[int] = attrs.field(factory=list)
    finished: dict[int, RequestStatus] = attrs.field(factory=dict)


def _plain_identity(user: str, group: str, vo: str) -> Identity:
    return Identity(user=user, group=group, vo=vo)


class RequestExecutor:
    """Runs due requests through ``handlers`` (operation type -> handler); see the module.

    ``identity(user, group, vo)`` gives the owner's identity (the interware's registry; an
    unknown owner raises ``NotFound``); ``catalog`` is the file catalog (None: data operations
    keep waiting, saying so); ``wms`` finalizes jobs; ``services`` are other systems' engines
    handed to handlers (``"transformations"``, ...). Close it to stop its threads.
    """

    def __init__(self, *, store: RequestStore, handlers: Mapping[str, OperationHandler],
                 storage: StorageElements, clock: Clock, catalog: Catalog | None = None,
                 identity: Callable[[str, str, str], Identity] = _plain_identity,
                 hooks: pluggy.PluginManager | None = None, wms: WorkloadManager | None = None,
                 services: Mapping[str, Any] | None = None,
                 settings: RequestSettings | None = None) -> None:
        self.store = store
        self.handlers = dict(handlers)
        self.storage = storage
        self.clock = clock
        self.catalog = catalog
        self.identity = identity
        self.hooks = hooks
        self.settings = settings or RequestSettings()
        #: engines of other systems handed to handlers, by name (add to it after building)
        self.services: dict[str, Any] = dict(services or {})
        self.finalizer = JobFinalizer(store=store, wms=wms, clock=clock) if wms is not None else None
        self.slots = TargetSlots(self.settings.max_in_flight_per_se)
        self._pool: ThreadPoolExecutor | None = None
        self._in_flight: dict[int, Future[RequestStatus | None]] = {}
        self._lock = threading.Lock()

    # -- cycles ---------------------------------------------------------------------------

    def run_once(self, *, wait: bool = True) -> CycleReport:
        """One cycle (see the module); with ``wait``, return once the started requests are back."""
        report = CycleReport()
        with self._lock:
            running = list(self._in_flight)
        if running:
            self.store.touch(running)
        room = self.settings.requests_per_cycle - len(running)
        if room <= 0:
            return report
        picked = self.store.pick(room)
        report.picked = len(picked)
        futures: dict[int, Future[RequestStatus | None]] = {}
        for request in picked:
            assert request.request_id is not None  # picked from the store
            targets = self._targets(request.current)
            if self.slots.acquire(targets):
                futures[request.request_id] = self._submit(request, targets)
            else:
                report.deferred.append(request.request_id)
        self.store.release(report.deferred)
        report.started = list(futures)
        if wait:
            for request_id, future in futures.items():
                status = future.result()
                if status is not None:
                    report.finished[request_id] = status
        return report

    def _targets(self, operation: Operation | None) -> frozenset[str]:
        """The target SEs whose slots ``operation`` takes: those its handler touches (a
        registration, which only names its SE, takes none)."""
        handler = self.handlers.get(operation.type) if operation is not None else None
        if operation is None or handler is None:
            return frozenset()
        needs = handler.storage_access(operation)
        return frozenset(se for se in operation.target_se if needs.get(se) is not None)

    def wait(self) -> None:
        """Wait until every request this executor started is put back."""
        while True:
            with self._lock:
                futures = list(self._in_flight.values())
            if not futures:
                return
            for future in futures:
                future.result()

    @property
    def in_flight(self) -> list[int]:
        """The requests this executor is working on now."""
        with self._lock:
            return sorted(self._in_flight)

    def close(self) -> None:
        """Wait for the requests in flight, then stop the threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _submit(self, request: Request, targets: frozenset[str]) -> Future[RequestStatus | None]:
        request_id = request.request_id
        assert request_id is not None
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.settings.threads, thread_name_prefix="dirac-requests")
            future = self._pool.submit(self._guarded, request, set(targets))
            self._in_flight[request_id] = future
        future.add_done_callback(lambda _: self._forget(request_id))
        return future

    def _forget(self, request_id: int) -> None:
        with self._lock:
            self._in_flight.pop(request_id, None)

    def _guarded(self, request: Request, held: set[str]) -> RequestStatus | None:
        """:meth:`execute` in a worker: an unexpected error is logged, the request given back."""
        try:
            return self.execute(request, held=held)
        except Exception:
            log.exception("request %s: execution failed", request.request_id,
                          extra={"request_id": request.request_id})
            try:
                self.store.release([request.request_id] if request.request_id is not None else [])
            except Exception as exc:  # the database is gone: the cleaning task will kick it
                log.warning("request %s could not be given back: %s", request.request_id, exc,
                            extra={"request_id": request.request_id})
            return None

    # -- one request ----------------------------------------------------------------------

    def execute(self, request: Request, *, held: set[str] | None = None) -> RequestStatus:
        """Run a picked (Assigned) request in this thread and put it back; its new status.

        ``held``: the target SEs whose slots were taken for it (given back here).
        """
        held = held if held is not None else set()
        try:
            try:
                context = self._context(request)
            except DiracError as exc:
                _fail_everything(request, f"the owner {request.owner!r} ({request.owner_group}) cannot "
                                          f"act: {exc}")
            else:
                self._operations(request, context, held)
        finally:
            self.slots.release(held)
        status = self.store.put_back(request)
        if status in FINAL_REQUEST:
            self._finished(request)
        return status

    def _context(self, request: Request) -> HandlerContext:
        owner = self.identity(request.owner, request.owner_group, request.vo)
        dm = None
        if self.catalog is not None:
            dm = DataManager(catalog=self.catalog.acting_as(owner), storage=self.storage, hooks=self.hooks,
                             failover=FollowUpOperations(request))
        return HandlerContext(dm=dm, storage=self.storage, clock=self.clock, hooks=self.hooks,
                              services=self.services, delay=self._delay,
                              banned_delay=timedelta(seconds=self.settings.banned_delay))

    def _delay(self, request: Request, wait: timedelta) -> None:
        """Run ``request`` again no sooner than ``wait`` from now."""
        later = self.clock.now() + wait
        if request.not_before is None or request.not_before < later:
            request.not_before = later

    def _waits(self, request: Request) -> bool:
        return request.not_before is not None and request.not_before > self.clock.now()

    def _operations(self, request: Request, context: HandlerContext, held: set[str]) -> None:
        """Run operations of ``request`` while they finish and their targets have slots."""
        request.error = ""
        operation = request.current
        while operation is not None:
            if not self._run(request, operation, context):
                return
            _explain(operation)
            roll_up(request)
            following = request.current
            if request.status is not RequestStatus.WAITING or self._waits(request) or following is None \
                    or following is operation:
                return
            self.slots.release(held)
            held.clear()
            targets = self._targets(following)
            if not self.slots.acquire(targets):
                return
            held.update(targets)
            operation = following

    def _run(self, request: Request, operation: Operation, context: HandlerContext) -> bool:
        """Check, count and run one operation; False when the request must stop here."""
        handler = self.handlers.get(operation.type)
        if handler is None:
            _fail_operation(operation, f"no handler for operation type {operation.type!r} (installed: "
                                       f"{', '.join(sorted(self.handlers)) or 'none'})")
            return True
        verdict = check_storage(self.storage, handler.storage_access(operation))
        if verdict.unknown:
            _fail_operation(operation, f"unknown storage element(s): {', '.join(verdict.unknown)}")
            return True
        if verdict.refused:
            self._delay(request, context.banned_delay)
            until = f"{request.not_before:%Y-%m-%d %H:%M}"
            operation.error = f"{'; '.join(verdict.refused)}: waiting until {until}"
            return False
        self._count_attempts(operation)
        if operation.files and not operation.waiting_files:
            return True
        try:
            handler.execute(request, operation, context)
        except Exception as exc:  # a handler bug or an outage: keep the request, say why
            log.exception("request %s: %s handler failed", request.request_id, operation.type,
                          extra={"request_id": request.request_id})
            operation.error = request.error = f"{operation.type}: {type(exc).__name__}: {exc}"[:2048]
            return False
        return True

    def _count_attempts(self, operation: Operation) -> None:
        """One more attempt on every waiting file; a file past ``max_attempts`` fails."""
        for file in operation.waiting_files:
            file.attempt += 1
            if file.attempt > self.settings.max_attempts:
                file.set_status(RequestFileStatus.FAILED, f"{file.error} {MAX_ATTEMPTS_NOTE}".strip())

    def _finished(self, request: Request) -> None:
        if request.job_id is not None and self.finalizer is not None:
            try:
                self.finalizer.finalize(request.job_id)
            except DiracError as exc:
                log.warning("request %s: job %s not finalized: %s", request.request_id, request.job_id, exc,
                            extra={"request_id": request.request_id, "job_id": request.job_id})
        if self.hooks is not None:
            try:
                self.hooks.hook.dirac_request_done(request=request)
            except Exception:  # notification must not undo what was stored
                log.exception("dirac_request_done failed for request %s", request.request_id,
                              extra={"request_id": request.request_id})


def _fail_operation(operation: Operation, reason: str) -> None:
    """Fail the operation: its waiting files, or itself when it has none."""
    if operation.files:
        for file in operation.waiting_files:
            file.set_status(RequestFileStatus.FAILED, reason)
    else:
        operation.status = OperationStatus.FAILED
    operation.error = reason


def _explain(operation: Operation) -> None:
    """Give an operation with failed files an error naming the first (the request's error when
    that fails it)."""
    failed = [f for f in operation.files if f.status is RequestFileStatus.FAILED]
    if failed and not operation.error:
        more = f" (and {len(failed) - 1} more file(s))" if len(failed) > 1 else ""
        operation.error = f"{failed[0].lfn}: {failed[0].error}{more}"[:2048]


def _fail_everything(request: Request, reason: str) -> None:
    """Fail every operation still to do (DIRAC: an unknown owner fails the request)."""
    for operation in _open(request.operations):
        _fail_operation(operation, reason)
    request.error = reason


def _open(operations: Iterable[Operation]) -> list[Operation]:
    return [op for op in operations if op.status not in (OperationStatus.DONE, OperationStatus.FAILED,
                                                          OperationStatus.CANCELED)]

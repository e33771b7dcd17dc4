"""The request store: requests with their operations and files, on the three database backends.

- :meth:`RequestStore.submit` validates and writes requests (each whole, in one transaction per
  call); the result says, per position in the call, the new request id or why it was refused.
- :meth:`RequestStore.pick` hands the executor Waiting requests whose ``not_before`` has passed,
  oldest update first, and marks them Assigned (``SKIP LOCKED`` where the backend has it, so
  executors on several replicas never take the same request).
- :meth:`RequestStore.put_back` rolls a request's statuses up and writes it back; a request that
  still has work waits ``2 ln(attempts)`` minutes (DIRAC's back-off) unless a handler set a later
  ``not_before``. A request canceled meanwhile stays Canceled.
- :meth:`RequestStore.release` gives requests an executor picked but did not start back
  untouched; :meth:`RequestStore.touch` keeps the requests an executor is still working on
  from looking stuck.
- :meth:`RequestStore.kick_stuck` puts back requests held Assigned for too long (an executor
  died); :meth:`RequestStore.clean` deletes old final requests.
- :meth:`RequestStore.search` lists requests (a page of :class:`RequestSummary`), for people.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs
from sqlalchemy import Connection, CursorResult, bindparam, delete, func, insert, select, update

from dirac_core.db import Database
from dirac_core.db.tables.requests import rms_files, rms_operations, rms_requests
from dirac_core.errors import BulkResult, DiracError, InvalidRequest, NotFound
from dirac_core.model.clock import Clock
from dirac_core.model.request import (
    FINAL_OPERATION,
    FINAL_REQUEST,
    REQUEST_TRANSITIONS,
    OperationStatus,
    RequestStatus,
)
from dirac_core.model.status import check_transition
from dirac_core.rms.request import Operation, Request, RequestFile, roll_up
from dirac_core.rms.validation import BUILTIN_TYPES, OperationType, validate

__all__ = ["RequestStore", "RequestSummary", "back_off"]

_R = RequestStatus


def back_off(request: Request) -> timedelta:
    """How long a request with work left waits before its next attempt: ``2 ln(n)`` minutes, ``n``
    the most attempts of a waiting file of its current operation (no wait before the first)."""
    current = request.current
    attempts = max((f.attempt for f in current.waiting_files), default=0) if current else 0
    return timedelta(minutes=2 * math.log(attempts)) if attempts > 1 else timedelta(0)


@attrs.frozen(kw_only=True)
class RequestSummary:
    """A request without its files: what a listing shows. ``operations`` are the types in order,
    ``current`` the type of the operation to run now (None when the request is over)."""

    request_id: int
    name: str
    owner: str
    owner_group: str
    vo: str
    job_id: int | None
    status: RequestStatus = attrs.field(converter=RequestStatus)
    error: str
    not_before: datetime | None
    created: datetime
    updated: datetime
    operations: tuple[str, ...] = ()
    current: str | None = None


class RequestStore:
    """Requests in the database. ``types`` are the operation types it accepts (DIRAC's data
    operations by default; handler drivers add theirs)."""

    def __init__(self, *, database: Database, clock: Clock,
                 types: Mapping[str, OperationType] = BUILTIN_TYPES) -> None:
        self.database = database
        self.clock = clock
        self.types = dict(types)

    # -- writing ----------------------------------------------------------------------

    def submit(self, requests: Sequence[Request]) -> BulkResult[int, int]:
        """Store new requests: ``ok`` maps a position in ``requests`` to the new request id,
        ``failed`` to the :class:`InvalidRequest` saying why it was refused."""
        result: BulkResult[int, int] = BulkResult()
        good: list[tuple[int, Request]] = []
        for index, request in enumerate(requests):
            try:
                if request.request_id is not None:
                    raise InvalidRequest(f"request {request.name!r} is stored already "
                                         f"({request.request_id})")
                validate(request, self.types)
            except DiracError as exc:
                result.add_failed(index, exc)
            else:
                good.append((index, request))
        now = self.clock.now()
        with self.database.begin() as conn:
            for index, request in good:
                request.created = request.updated = now
                roll_up(request)
                request.request_id = self._insert_request(conn, request, now)
                result.add_ok(index, request.request_id)
        return result

    def put_back(self, request: Request) -> RequestStatus:
        """Roll ``request`` up and store its statuses, errors, attempts and new operations."""
        if request.request_id is None:
            raise InvalidRequest(f"request {request.name!r} was never stored")
        now = self.clock.now()
        with self.database.begin() as conn:
            stored = conn.execute(select(rms_requests.c.status)
                                  .where(rms_requests.c.request_id == request.request_id)
                                  .with_for_update()).scalar_one_or_none()
            if stored is None:
                raise NotFound(f"request {request.request_id} does not exist", request=request.request_id)
            if stored is _R.CANCELED:
                request.status = _R.CANCELED
            status = roll_up(request)
            if status in (_R.WAITING, _R.SCHEDULED):
                later = now + back_off(request)
                if request.not_before is None or request.not_before < later:
                    request.not_before = later
            request.updated = now
            conn.execute(update(rms_requests).where(rms_requests.c.request_id == request.request_id).values(
                status=status, error=request.error[:2048], not_before=request.not_before, updated=now))
            self._write_operations(conn, request, now)
        return status

    def cancel(self, request_ids: Iterable[int]) -> BulkResult[int, None]:
        """Cancel requests; a final one is refused (``InvalidTransition``), an unknown one NotFound."""
        result: BulkResult[int, None] = BulkResult()
        ids = sorted(set(request_ids))
        now = self.clock.now()
        with self.database.begin() as conn:
            current = dict(conn.execute(select(rms_requests.c.request_id, rms_requests.c.status)
                                        .where(rms_requests.c.request_id.in_(ids)).with_for_update()).all())
            for request_id in ids:
                try:
                    if request_id not in current:
                        raise NotFound(f"request {request_id} does not exist", request=request_id)
                    check_transition(REQUEST_TRANSITIONS, current[request_id], _R.CANCELED,
                                     subject=f"request {request_id}")
                except DiracError as exc:
                    result.add_failed(request_id, exc)
                else:
                    result.add_ok(request_id, None)
            if result.ok:
                conn.execute(update(rms_requests).where(rms_requests.c.request_id.in_(list(result.ok)))
                             .values(status=_R.CANCELED, updated=now))
        return result

    # -- the executor's side ------------------------------------------------------------

    def pick(self, count: int) -> list[Request]:
        """Up to ``count`` Waiting requests due now, oldest update first, marked Assigned."""
        now = self.clock.now()
        r = rms_requests.c
        stmt = (select(r.request_id).where(r.status == _R.WAITING,
                                           (r.not_before.is_(None)) | (r.not_before <= now))
                .order_by(r.updated, r.request_id).limit(count))
        if self.database.supports_skip_locked:
            stmt = stmt.with_for_update(skip_locked=True)
        with self.database.begin() as conn:
            ids = list(conn.execute(stmt).scalars())
            if not ids:
                return []
            conn.execute(update(rms_requests).where(r.request_id.in_(ids)).values(status=_R.ASSIGNED,
                                                                                   updated=now))
            found = _load(conn, ids)
        return [found[i] for i in ids]

    def release(self, request_ids: Iterable[int]) -> int:
        """Give Assigned requests back untouched (Waiting, ``not_before`` kept): picked, but not
        started this cycle. How many."""
        ids = sorted(set(request_ids))
        if not ids:
            return 0
        with self.database.begin() as conn:
            done = conn.execute(update(rms_requests).where(
                rms_requests.c.request_id.in_(ids), rms_requests.c.status == _R.ASSIGNED)
                .values(status=_R.WAITING))
        return int(done.rowcount)

    def touch(self, request_ids: Iterable[int]) -> None:
        """Mark Assigned requests as still being worked on (their update time is now), so that
        :meth:`kick_stuck` leaves them to the executor that holds them."""
        ids = sorted(set(request_ids))
        if ids:
            with self.database.begin() as conn:
                conn.execute(update(rms_requests).where(
                    rms_requests.c.request_id.in_(ids), rms_requests.c.status == _R.ASSIGNED)
                    .values(updated=self.clock.now()))

    def kick_stuck(self, older_than: timedelta) -> int:
        """Put Assigned requests untouched for ``older_than`` back to Waiting; how many."""
        now = self.clock.now()
        with self.database.begin() as conn:
            done = conn.execute(update(rms_requests).where(
                rms_requests.c.status == _R.ASSIGNED, rms_requests.c.updated < now - older_than)
                .values(status=_R.WAITING, updated=now))
        return int(done.rowcount)

    def clean(self, older_than: timedelta, *, failed_too: bool = False, limit: int = 1000) -> int:
        """Delete up to ``limit`` Done requests (and Failed and Canceled ones with ``failed_too``)
        not updated for ``older_than``; how many."""
        gone = {_R.DONE, _R.FAILED, _R.CANCELED} if failed_too else {_R.DONE}
        r = rms_requests.c
        with self.database.begin() as conn:
            ids = list(conn.execute(select(r.request_id).where(
                r.status.in_(gone), r.updated < self.clock.now() - older_than).limit(limit)).scalars())
            _delete(conn, ids)
        return len(ids)

    # -- reading ------------------------------------------------------------------------

    def get(self, request_ids: Iterable[int]) -> BulkResult[int, Request]:
        """Requests by id, whole; an unknown id fails with NotFound."""
        ids = sorted(set(request_ids))
        with self.database.begin(read_only=True) as conn:
            found = _load(conn, ids)
        result: BulkResult[int, Request] = BulkResult()
        for request_id in ids:
            if request_id in found:
                result.add_ok(request_id, found[request_id])
            else:
                result.add_failed(request_id, NotFound(f"request {request_id} does not exist",
                                                       request=request_id))
        return result

    def status(self, request_ids: Iterable[int]) -> dict[int, RequestStatus]:
        """The status of each known request among ``request_ids``."""
        with self.database.begin(read_only=True) as conn:
            return dict(conn.execute(select(rms_requests.c.request_id, rms_requests.c.status)
                                     .where(rms_requests.c.request_id.in_(sorted(set(request_ids))))).all())

    def ids_by_name(self, names: Sequence[str]) -> dict[str, int]:
        """The newest request of each of ``names`` that has one (request names are not unique)."""
        r = rms_requests.c
        found: dict[str, int] = {}
        with self.database.begin(read_only=True) as conn:
            for start in range(0, len(names), 1000):
                for name, request_id in conn.execute(select(r.name, r.request_id).where(
                        r.name.in_(names[start:start + 1000])).order_by(r.request_id)):
                    found[name] = int(request_id)
        return found

    def for_jobs(self, job_ids: Iterable[int]) -> dict[int, list[int]]:
        """The requests of each job among ``job_ids`` that has some, oldest first."""
        out: dict[int, list[int]] = {}
        r = rms_requests.c
        with self.database.begin(read_only=True) as conn:
            for job_id, request_id in conn.execute(select(r.job_id, r.request_id)
                                                   .where(r.job_id.in_(sorted(set(job_ids))))
                                                   .order_by(r.request_id)):
                out.setdefault(job_id, []).append(request_id)
        return out

    def counts(self) -> dict[RequestStatus, int]:
        """How many requests there are in each status."""
        with self.database.begin(read_only=True) as conn:
            return dict(conn.execute(select(rms_requests.c.status, func.count())
                                     .group_by(rms_requests.c.status)).all())

    def search(self, *, owner: str | None = None, vo: str | None = None,
               statuses: Iterable[RequestStatus | str] = (), job_id: int | None = None,
               page: int = 1, per_page: int = 100) -> list[RequestSummary]:
        """One page of requests (newest first), filtered by owner, VO, status and job."""
        r, o = rms_requests.c, rms_operations.c
        stmt = select(rms_requests)
        if owner is not None:
            stmt = stmt.where(r.owner == owner)
        if vo is not None:
            stmt = stmt.where(r.vo == vo)
        wanted = [RequestStatus(s) for s in statuses]
        if wanted:
            stmt = stmt.where(r.status.in_(wanted))
        if job_id is not None:
            stmt = stmt.where(r.job_id == job_id)
        stmt = stmt.order_by(r.request_id.desc()).limit(per_page).offset((max(page, 1) - 1) * per_page)
        with self.database.begin(read_only=True) as conn:
            rows = conn.execute(stmt).all()
            ops: dict[int, list[tuple[str, OperationStatus]]] = {row.request_id: [] for row in rows}
            if ops:
                for request_id, kind, status in conn.execute(
                        select(o.request_id, o.type, o.status).where(o.request_id.in_(list(ops)))
                        .order_by(o.request_id, o.position)):
                    ops[request_id].append((kind, status))
        return [RequestSummary(
            request_id=row.request_id, name=row.name, owner=row.owner, owner_group=row.owner_group,
            vo=row.vo, job_id=row.job_id, status=row.status, error=row.error, not_before=row.not_before,
            created=row.created, updated=row.updated, operations=tuple(k for k, _ in ops[row.request_id]),
            current=None if row.status in FINAL_REQUEST else next(
                (k for k, st in ops[row.request_id] if st not in FINAL_OPERATION), None))
            for row in rows]

    def pending(self) -> bool:
        """Whether some request is not final yet."""
        with self.database.begin(read_only=True) as conn:
            first = conn.execute(select(rms_requests.c.request_id)
                                 .where(rms_requests.c.status.not_in(FINAL_REQUEST)).limit(1)).first()
        return first is not None

    # -- rows ---------------------------------------------------------------------------

    def _insert_request(self, conn: Connection, request: Request, now: datetime) -> int:
        new = conn.execute(insert(rms_requests).values(
            name=request.name, owner=request.owner, owner_group=request.owner_group, vo=request.vo,
            job_id=request.job_id, source=request.source[:64], status=request.status,
            error=request.error[:2048], not_before=request.not_before, created=now, updated=now))
        request_id = _new_id(new)
        request.request_id = request_id
        self._write_operations(conn, request, now)
        return request_id

    def _write_operations(self, conn: Connection, request: Request, now: datetime) -> None:
        """Insert new operations and files, update the others (files in one executemany)."""
        o, f = rms_operations.c, rms_files.c
        known: list[dict[str, Any]] = []
        for position, op in enumerate(request.operations):
            values = {"position": position, "status": op.status, "error": op.error[:2048], "updated": now}
            if op.operation_id is None:
                op.created = now
                new = conn.execute(insert(rms_operations).values(
                    request_id=request.request_id, type=op.type, arguments=json.dumps(op.arguments),
                    source_se=",".join(op.source_se), target_se=",".join(op.target_se),
                    catalogs=",".join(op.catalogs), created=now, **values))
                op.operation_id = _new_id(new)
            else:
                conn.execute(update(rms_operations).where(o.operation_id == op.operation_id).values(**values))
            op.updated = now
            fresh = [file for file in op.files if file.file_id is None]
            known.extend({"b_id": file.file_id, "b_status": file.status, "b_attempt": file.attempt,
                          "b_error": file.error[:2048]} for file in op.files if file.file_id is not None)
            if fresh:
                ids = conn.execute(insert(rms_files).returning(f.file_id, sort_by_parameter_order=True),
                                   [{"operation_id": op.operation_id, **_file_row(file)} for file in fresh])
                for file, file_id in zip(fresh, ids.scalars(), strict=True):
                    file.file_id = int(file_id)
        if known:
            conn.execute(update(rms_files).where(f.file_id == bindparam("b_id")).values(
                status=bindparam("b_status"), attempt=bindparam("b_attempt"), error=bindparam("b_error")),
                known)


def _new_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    assert key is not None  # an INSERT of one row always has one
    return int(key[0])


def _file_row(file: RequestFile) -> dict[str, Any]:
    return {"lfn": file.lfn, "pfn": file.pfn, "guid": file.guid, "size": file.size,
            "checksum": file.checksum, "checksum_type": file.checksum_type, "status": file.status,
            "attempt": file.attempt, "error": file.error[:2048]}


def _load(conn: Connection, ids: Sequence[int]) -> dict[int, Request]:
    """Whole requests by id (those that exist)."""
    if not ids:
        return {}
    r, o, f = rms_requests.c, rms_operations.c, rms_files.c
    requests = {row.request_id: Request(
        request_id=row.request_id, name=row.name, owner=row.owner, owner_group=row.owner_group, vo=row.vo,
        job_id=row.job_id, source=row.source, status=row.status, error=row.error, not_before=row.not_before,
        created=row.created, updated=row.updated)
        for row in conn.execute(select(rms_requests).where(r.request_id.in_(ids)))}
    operations: dict[int, Operation] = {}
    for row in conn.execute(select(rms_operations).where(o.request_id.in_(ids))
                            .order_by(o.request_id, o.position)):
        op = Operation(operation_id=row.operation_id, type=row.type, status=row.status,
                       arguments=json.loads(row.arguments), source_se=row.source_se,
                       target_se=row.target_se, catalogs=row.catalogs, error=row.error,
                       created=row.created, updated=row.updated)
        operations[row.operation_id] = op
        requests[row.request_id].operations.append(op)
    if operations:
        for row in conn.execute(select(rms_files).where(f.operation_id.in_(list(operations)))
                                .order_by(f.file_id)):
            operations[row.operation_id].files.append(RequestFile(
                file_id=row.file_id, lfn=row.lfn, pfn=row.pfn, guid=row.guid, size=row.size,
                checksum=row.checksum, checksum_type=row.checksum_type, status=row.status,
                attempt=row.attempt, error=row.error))
    return requests


def _delete(conn: Connection, ids: Sequence[int]) -> None:
    if not ids:
        return
    operations = select(rms_operations.c.operation_id).where(rms_operations.c.request_id.in_(ids))
    conn.execute(delete(rms_files).where(rms_files.c.operation_id.in_(operations)))
    conn.execute(delete(rms_operations).where(rms_operations.c.request_id.in_(ids)))
    conn.execute(delete(rms_requests).where(rms_requests.c.request_id.in_(ids)))


"""Bulk status updates: DIRAC's protocol, with refusals kept visible.

Each job gets a set of updates keyed by timezone-aware timestamps. They are
applied in time order through the transition table; an update older than
the job's latest recorded status is only recorded. A transition the table
refuses leaves the job unchanged and is recorded in the history with
``refused`` set (DIRAC silently logs ``(SM)`` and moves on). A Stalled job is
treated as Running, so any update from a live job revives it. ``force``
skips the table (administrators only: the caller checks).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs
from sqlalchemy import Connection, func, select, true, type_coerce

from dirac_core.db.tables.wms import job_history, jobs
from dirac_core.db.types import UTCDateTime
from dirac_core.errors import BulkResult
from dirac_core.model.clock import ensure_utc
from dirac_core.model.job import FINAL_JOB_STATUSES, JOB_TRANSITIONS, JobStatus
from dirac_core.wms.store import history_row, ids_in, job_not_found

__all__ = ["Applied", "JobState", "StatusChange", "StatusUpdate", "apply_updates", "check_timestamps",
           "typed_updates"]

#: the state read before an update (``last_update_time`` is not: every updated job gets ``now``)
_STATE_COLUMNS = ("minor_status", "application_status", "heartbeat_time", "start_exec_time",
                  "end_exec_time")


@attrs.frozen(kw_only=True)
class StatusUpdate:
    """One reported change; None parts leave the current value."""

    status: JobStatus | None = attrs.field(
        default=None, converter=attrs.converters.optional(JobStatus))
    minor_status: str | None = None
    application_status: str | None = None
    source: str = "Unknown"


@attrs.frozen(kw_only=True)
class JobState:
    """A job's status and times after an update."""

    status: JobStatus
    minor_status: str
    application_status: str
    heartbeat_time: datetime | None
    start_exec_time: datetime | None
    end_exec_time: datetime | None
    last_update_time: datetime


@attrs.frozen
class StatusChange:
    """A job whose status changed: from, to, when, and who reported it."""

    job_id: int
    old: JobStatus
    new: JobStatus
    minor_status: str
    when: datetime
    source: str


_UPDATE_NAMES = {"Status": "status", "MinorStatus": "minor_status",
                 "ApplicationStatus": "application_status", "Source": "source"}


def _update(data: Mapping[str, Any]) -> StatusUpdate:
    return StatusUpdate(**{_UPDATE_NAMES.get(k, k): v for k, v in data.items()})


def typed_updates(updates: Mapping[int, Mapping[datetime, StatusUpdate | Mapping[str, Any]]]
                   ) -> dict[int, dict[datetime, StatusUpdate]]:
    """The updates as :class:`StatusUpdate`; DIRAC's dictionaries converted once per distinct
    content (a bulk update repeats a few: thousands of jobs set Running by their wrappers)."""
    seen: dict[tuple[tuple[str, Any], ...], StatusUpdate] = {}

    def typed(update: StatusUpdate | Mapping[str, Any]) -> StatusUpdate:
        if isinstance(update, StatusUpdate):
            return update
        try:
            key = tuple(update.items())
            found = seen.get(key)
        except TypeError:  # an unhashable value: its own conversion (and its own error)
            return _update(update)
        if found is None:
            found = seen[key] = _update(update)
        return found

    return {job_id: {when: typed(u) for when, u in by_time.items()} for job_id, by_time in updates.items()}


def check_timestamps(updates: Mapping[int, Mapping[datetime, StatusUpdate]]
                     ) -> dict[datetime, datetime]:
    """Raise ``ValueError`` naming the job when a timestamp has no timezone.

    Returns each distinct timestamp in UTC (a bulk update often repeats one).
    """
    utc: dict[datetime, datetime] = {}
    for job_id, by_time in updates.items():
        for when in by_time:
            if when in utc:
                continue
            try:
                utc[when] = ensure_utc(when)
            except (ValueError, TypeError):
                raise ValueError(f"job {job_id}: status timestamp {when!r} must be timezone-aware") \
                    from None
    return utc


_LAST_LOGGED = (select(func.max(job_history.c.status_time))
                .where(job_history.c.job_id == jobs.c.job_id).scalar_subquery())
#: PostgreSQL's form: its planner turned the correlated ``max()`` into a scan per job once the
#: history grew; a lateral ``ORDER BY ... LIMIT 1`` is one backward dive in ``(job_id, status_time)``
_LAST_LOGGED_LATERAL = (select(job_history.c.status_time.label("last_logged"))
                        .where(job_history.c.job_id == jobs.c.job_id)
                        .order_by(job_history.c.status_time.desc()).limit(1).lateral("last_logged"))
#: read besides the state: who the job counts for (the status counts), not written back
_OWNER_COLUMNS = ("vo", "owner_group")
_READ_NAMES = ("job_id", "status", *_STATE_COLUMNS, *_OWNER_COLUMNS, "last_logged")
_JOB_COLUMNS = (jobs.c.job_id, jobs.c.status, *(jobs.c[n] for n in (*_STATE_COLUMNS, *_OWNER_COLUMNS)))
_READ = select(*_JOB_COLUMNS, type_coerce(_LAST_LOGGED, UTCDateTime()))
_READ_LATERAL = (select(*_JOB_COLUMNS, type_coerce(_LAST_LOGGED_LATERAL.c.last_logged, UTCDateTime()))
                 .select_from(jobs.outerjoin(_LAST_LOGGED_LATERAL, true())))


def _read_states(conn: Connection, job_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Each job's state, VO and group, and the time of its latest history record; the jobs'
    rows locked to the commit (``FOR UPDATE``), so that two updates of a job cannot both
    start from the same state. One query per chunk of jobs.
    """
    lateral = conn.dialect.name == "postgresql"
    query = _READ_LATERAL if lateral else _READ
    lock: dict[str, Any] = {"of": jobs} if lateral else {}  # not the history's rows
    out: dict[int, dict[str, Any]] = {}
    for where in ids_in(conn, jobs.c.job_id, job_ids):
        for row in conn.execute(query.where(where).with_for_update(**lock)).all():
            out[row[0]] = dict(zip(_READ_NAMES, row, strict=True))
    return out


@attrs.frozen(kw_only=True)
class Applied:
    """What :func:`apply_updates` worked out, for the caller to write in its transaction."""

    result: BulkResult[int, JobState]
    changes: list[StatusChange]
    #: the job rows to write (:func:`~dirac_core.wms.store.set_job_rows`)
    rows: list[dict[str, Any]]
    #: the history records to insert
    history: list[dict[str, Any]]
    #: job id -> status, VO and group as read (and locked): ``set_job_rows``'s ``before``
    before: dict[int, dict[str, Any]]


def apply_updates(conn: Connection, updates: Mapping[int, Mapping[datetime, StatusUpdate]], *,
                  force: bool, now: datetime) -> Applied:
    """Work out the new state of every job, reading (and locking) the jobs' rows.

    Nothing is written here: the caller writes the rows and history it returns
    in its transaction.
    """
    utc = check_timestamps(updates)
    ids = sorted(updates)
    current = _read_states(conn, ids)
    result: BulkResult[int, JobState] = BulkResult()
    changes: list[StatusChange] = []
    rows: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    before: dict[int, dict[str, Any]] = {}
    for job_id in ids:
        row = current.get(job_id)
        if row is None:
            result.add_failed(job_id, job_not_found(job_id))
            continue
        state = row  # read for this call alone: becomes the row to write
        last = state.pop("last_logged")
        old = state["status"]
        before[job_id] = {"status": old, "vo": state.pop("vo"), "owner_group": state.pop("owner_group")}
        by_time = updates[job_id]
        # most jobs get one update per call: no sort
        ordered = (((utc[when], upd) for when, upd in by_time.items()) if len(by_time) == 1
                   else sorted(((utc[when], upd) for when, upd in by_time.items()), key=_first))
        for at, upd in ordered:
            if last is not None and at < last:
                history.append(history_row(job_id, upd.status, upd.minor_status,
                                           upd.application_status, at, upd.source))
                continue
            refused = _apply_one(state, upd, at, force)
            history.append(history_row(job_id, upd.status, upd.minor_status,
                                       upd.application_status, at, upd.source, refused))
        state["last_update_time"] = now
        rows.append(state)
        if state["status"] is not old:
            changes.append(StatusChange(job_id, old, state["status"], state["minor_status"],
                                        now, _last_source(by_time)))
        result.add_ok(job_id, JobState(
            status=state["status"], minor_status=state["minor_status"],
            application_status=state["application_status"],
            heartbeat_time=state["heartbeat_time"], start_exec_time=state["start_exec_time"],
            end_exec_time=state["end_exec_time"], last_update_time=now))
    return Applied(result=result, changes=changes, rows=rows, history=history, before=before)


def _first(pair: tuple[datetime, StatusUpdate]) -> datetime:
    return pair[0]


def _apply_one(state: dict[str, Any], upd: StatusUpdate, at: datetime, force: bool) -> bool:
    """Apply one update to ``state``; True when its status change was refused."""
    status: JobStatus = state["status"]
    if upd.status is not None and upd.status is not status:
        seen_as = JobStatus.RUNNING if status is JobStatus.STALLED else status
        allowed = (force or upd.status is seen_as or upd.status in JOB_TRANSITIONS[seen_as])
        if not allowed:
            return True
        state["status"] = upd.status
    if upd.minor_status is not None:
        state["minor_status"] = upd.minor_status[:128]
    if upd.application_status is not None:
        state["application_status"] = upd.application_status[:255]
    new = state["status"]
    if new is JobStatus.RUNNING and state["start_exec_time"] is None:
        state["start_exec_time"] = at
    if new in FINAL_JOB_STATUSES and state["end_exec_time"] is None:
        state["end_exec_time"] = at
    if upd.source.startswith("Job") or upd.source == "Heartbeat":
        state["heartbeat_time"] = at
    return False


def _last_source(by_time: Mapping[datetime, StatusUpdate]) -> str:
    if len(by_time) == 1:
        return next(iter(by_time.values())).source
    return by_time[max(by_time, key=ensure_utc)].source



"""Job control: heartbeats and their commands, kill, delete, reschedule.

Functions here take an open transaction and return what changed; the engine
(:mod:`dirac_core.wms.engine`) opens the transaction and calls the hooks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import attrs
from sqlalchemy import Connection, bindparam, insert, select, update

from dirac_core.config.operations import VOPolicy
from dirac_core.db.tables.wms import heartbeats, job_commands
from dirac_core.errors import BulkResult, InvalidTransition
from dirac_core.model.job import JOB_TRANSITIONS, JobStatus
from dirac_core.wms.status_updates import StatusChange
from dirac_core.wms.store import (
    add_commands,
    chunks,
    history_row,
    insert_history,
    job_not_found,
    read_statuses,
    set_job_rows,
)
from dirac_core.wms.taskqueues import dequeue

__all__ = ["JobCommand", "heartbeat", "kill_or_delete", "reschedule"]

#: Statuses in which a payload may be running somewhere: killing them needs a Kill command.
ACTIVE = frozenset({JobStatus.MATCHED, JobStatus.RUNNING, JobStatus.STALLED, JobStatus.COMPLETING})
#: Metrics a heartbeat may carry (DIRAC's dynamic data), stored as text.
HEARTBEAT_METRICS = ("LoadAverage", "MemoryUsed", "Vsize", "AvailableDiskSpace", "CPUConsumed",
                     "WallClockTime")

#: The minor status of a job killed or deleted by ``kill_or_delete``.
_END_MINOR = {JobStatus.KILLED: "Marked for termination", JobStatus.DELETED: "Checking accounting"}

_MARK_SENT = (update(job_commands).where(job_commands.c.id == bindparam("b_id"))
              .values(status="Sent", execution_time=bindparam("b_now")))


@attrs.frozen
class JobCommand:
    """A command for a running job (``Kill``), delivered in a heartbeat reply."""

    job_id: int
    command: str
    arguments: str = ""


def heartbeat(conn: Connection, metrics: Mapping[int, Mapping[str, Any]], now: datetime
              ) -> tuple[BulkResult[int, list[JobCommand]], list[StatusChange]]:
    """Record heartbeats; revive Matched or Stalled jobs to Running; hand out pending commands.

    Heartbeats of jobs in a final status are recorded but revive nothing.
    """
    ids = sorted(metrics)
    current = read_statuses(conn, ids, "start_exec_time")
    result: BulkResult[int, list[JobCommand]] = BulkResult()
    rows: list[dict[str, Any]] = []
    revived: list[StatusChange] = []
    history: list[dict[str, Any]] = []
    beats: list[dict[str, Any]] = []
    for job_id in ids:
        row = current.get(job_id)
        if row is None:
            result.add_failed(job_id, job_not_found(job_id))
            continue
        status = row["status"]
        values: dict[str, Any] = {"job_id": job_id, "heartbeat_time": now, "last_update_time": now,
                                  "status": status, "start_exec_time": row["start_exec_time"]}
        if status in (JobStatus.MATCHED, JobStatus.STALLED):
            values.update(status=JobStatus.RUNNING, start_exec_time=row["start_exec_time"] or now)
            revived.append(StatusChange(job_id, status, JobStatus.RUNNING, "", now, "Heartbeat"))
            history.append(history_row(job_id, JobStatus.RUNNING, None, None, now, "Heartbeat"))
        rows.append(values)
        beats.extend({"job_id": job_id, "name": name, "value": str(value)[:255],
                      "heartbeat_time": now}
                     for name, value in metrics[job_id].items() if name in HEARTBEAT_METRICS)
        result.add_ok(job_id, [])
    set_job_rows(conn, rows)
    insert_history(conn, history)
    if beats:
        conn.execute(insert(heartbeats), beats)
    sent = []
    for part in chunks([j for j in ids if j in result.ok]):
        for cid, job_id, command, arguments in conn.execute(
                select(job_commands.c.id, job_commands.c.job_id, job_commands.c.command,
                       job_commands.c.arguments)
                .where(job_commands.c.job_id.in_(part), job_commands.c.status == "Received")
                .order_by(job_commands.c.id)):
            result.ok[job_id].append(JobCommand(job_id, command, arguments))
            sent.append({"b_id": cid, "b_now": now})
    if sent:
        conn.execute(_MARK_SENT, sent)
    return result, revived


def kill_or_delete(conn: Connection, job_ids: Iterable[int], target: JobStatus, now: datetime,
                   *, force: bool = False) -> tuple[BulkResult[int, JobStatus], list[StatusChange]]:
    """Move jobs to Killed (``target`` Killed) or Deleted; refusals fail their item.

    Killing an active job queues a Kill command for its pilot. Deleting kills
    first what may be killed (DIRAC's semantics), then deletes.
    """
    ids = sorted(set(job_ids))
    current = read_statuses(conn, ids)
    result: BulkResult[int, JobStatus] = BulkResult()
    changes: list[StatusChange] = []
    rows, history, to_kill = [], [], []
    for job_id in ids:
        if job_id not in current:
            result.add_failed(job_id, job_not_found(job_id))
            continue
        status = current[job_id]["status"]
        steps = [target]
        if target is JobStatus.DELETED and JobStatus.KILLED in JOB_TRANSITIONS[status] \
                and JobStatus.DELETED not in JOB_TRANSITIONS[status]:
            steps = [JobStatus.KILLED, JobStatus.DELETED]
        new = status
        for step in steps:
            if force or step is new or step in JOB_TRANSITIONS[new]:
                if step is not new:
                    history.append(history_row(job_id, step, _END_MINOR[step], None, now,
                                               "JobManager"))
                new = step
        if new is status and status is not target:
            result.add_failed(job_id, InvalidTransition(
                f"job {job_id}: {status.value} -> {target.value} is not allowed",
                current=status, requested=target, subject=job_id))
            continue
        if status in ACTIVE:
            to_kill.append(job_id)
        rows.append({"job_id": job_id, "status": new, "minor_status": _END_MINOR[new],
                     "last_update_time": now})
        if new is not status:
            changes.append(StatusChange(job_id, status, new, _END_MINOR[new], now, "JobManager"))
        result.add_ok(job_id, new)
    set_job_rows(conn, rows)
    insert_history(conn, history)
    dequeue(conn, result.ok)
    add_commands(conn, to_kill, "Kill", now)
    return result, changes


def reschedule(conn: Connection, job_ids: Iterable[int], policy_of: Any, now: datetime, *,
               reset: bool = False, force: bool = False
               ) -> tuple[BulkResult[int, int], list[StatusChange], list[int]]:
    """Send jobs back to Received for a new round of checks; return the ids to check again.

    The counter goes up by one (``reset`` starts it again from 0); past the
    VO's ``max_rescheduling`` the job fails instead. Pending Kill commands are
    cancelled so that a stale one cannot kill the new run (DIRAC#5849).
    """
    ids = sorted(set(job_ids))
    current = read_statuses(conn, ids, "reschedule_counter", "vo")
    result: BulkResult[int, int] = BulkResult()
    changes: list[StatusChange] = []
    rows, history, again = [], [], []
    for job_id in ids:
        row = current.get(job_id)
        if row is None:
            result.add_failed(job_id, job_not_found(job_id))
            continue
        status = row["status"]
        if not (force or status is JobStatus.RESCHEDULED
                or JobStatus.RESCHEDULED in JOB_TRANSITIONS[status]):
            result.add_failed(job_id, InvalidTransition(
                f"job {job_id}: a {status.value} job cannot be rescheduled",
                current=status, requested=JobStatus.RESCHEDULED, subject=job_id))
            continue
        policy: VOPolicy = policy_of(row["vo"])
        counter = 0 if reset else row["reschedule_counter"] + 1
        if counter > policy.max_rescheduling:
            rows.append({"job_id": job_id, "status": JobStatus.FAILED,
                         "minor_status": "Maximum of reschedulings reached",
                         "reschedule_counter": row["reschedule_counter"], "reschedule_time": now,
                         "last_update_time": now, "end_exec_time": now})
            history.append(history_row(job_id, JobStatus.FAILED, "Maximum of reschedulings reached",
                                       None, now, "JobManager"))
            changes.append(StatusChange(job_id, status, JobStatus.FAILED,
                                        "Maximum of reschedulings reached", now, "JobManager"))
            result.add_ok(job_id, row["reschedule_counter"])
            continue
        rows.append({"job_id": job_id, "status": JobStatus.RECEIVED, "minor_status": "Job Rescheduled",
                     "reschedule_counter": counter, "reschedule_time": now, "last_update_time": now,
                     "end_exec_time": None})
        history.append(history_row(job_id, JobStatus.RESCHEDULED, None, None, now, "JobManager"))
        history.append(history_row(job_id, JobStatus.RECEIVED, "Job Rescheduled", "Unknown", now,
                                   "JobManager"))
        changes.append(StatusChange(job_id, status, JobStatus.RECEIVED, "Job Rescheduled", now,
                                    "JobManager"))
        again.append(job_id)
        result.add_ok(job_id, counter)
    set_job_rows(conn, [r for r in rows if r["status"] is JobStatus.FAILED])
    set_job_rows(conn, [r for r in rows if r["status"] is JobStatus.RECEIVED])
    insert_history(conn, history)
    dequeue(conn, result.ok)
    for part in chunks(again):
        conn.execute(update(job_commands).where(job_commands.c.job_id.in_(part),
                                                job_commands.c.status == "Received")
                     .values(status="Cancelled", execution_time=now))
    return result, changes, again

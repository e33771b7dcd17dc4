"""Periodic WMS work: stalled jobs, stuck matches, held jobs, cleaning, queue priorities.

Each function does one cycle over the whole store and returns a count;
:mod:`dirac_core.wms.tasks` wraps them as :class:`~dirac_core.tasks.PeriodicTask`
objects. Thresholds come from each VO's policy (``operations``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, delete, func, select, true

from dirac_core.config.operations import VOPolicy
from dirac_core.db.tables.wms import (
    heartbeats,
    input_data,
    job_commands,
    job_history,
    job_jdls,
    job_parameters,
    job_to_pilot,
    jobs,
)
from dirac_core.model.job import FINAL_JOB_STATUSES, JobStatus
from dirac_core.wms import status_counts
from dirac_core.wms.status_updates import StatusChange
from dirac_core.wms.store import (
    add_commands,
    chunks,
    history_row,
    insert_history,
    read_statuses,
    set_job_rows,
)
from dirac_core.wms.taskqueues import dequeue, recompute_priorities, remove_empty_queues

if TYPE_CHECKING:
    from dirac_core.wms.engine import WorkloadManager

__all__ = ["clean_heartbeats", "detect_stalled", "fold_status_counts", "maintain_queues",
           "recover_matched", "remove_old_jobs"]

_BATCH = 5000


def _vos_by_policy(wms: WorkloadManager) -> list[tuple[VOPolicy, list[str] | None]]:
    """(policy, VOs using it); the defaults' entry lists None: every VO without its own."""
    ops = wms.config.operations
    own = sorted(ops.vos)
    return [(ops.vos[vo], [vo]) for vo in own] + [(ops.defaults, None)]


def _vo_filter(vos: list[str] | None, own: list[str]) -> ColumnElement[bool]:
    if vos is not None:
        return jobs.c.vo.in_(vos)
    return ~jobs.c.vo.in_(own) if own else true()


def detect_stalled(wms: WorkloadManager) -> int:
    """Running/Completing jobs silent for ``stalled_time`` become Stalled; Stalled jobs silent
    for ``failed_time`` become Failed, with a Kill command, and are rescheduled when the VO's
    ``reschedule_stalled`` says so. Returns the jobs changed."""
    now = wms.clock.now()
    own = sorted(wms.config.operations.vos)
    last_seen = func.coalesce(jobs.c.heartbeat_time, jobs.c.last_update_time)
    changes: list[StatusChange] = []
    stalled: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    again: list[int] = []
    with wms.database.begin() as conn:
        for policy, vos in _vos_by_policy(wms):
            stalled_before = now - timedelta(seconds=policy.stalled_time)
            for job_id, status in conn.execute(select(jobs.c.job_id, jobs.c.status).where(
                    _vo_filter(vos, own), jobs.c.status.in_([JobStatus.RUNNING,
                                                              JobStatus.COMPLETING]),
                    last_seen < stalled_before).limit(_BATCH)):
                stalled.append({"job_id": job_id, "status": JobStatus.STALLED})
                changes.append(StatusChange(job_id, status, JobStatus.STALLED, "", now,
                                            "StalledJobs"))
            minor = f"Stalling for more than {policy.failed_time} sec"
            for job_id in conn.execute(select(jobs.c.job_id).where(
                    _vo_filter(vos, own), jobs.c.status == JobStatus.STALLED,
                    last_seen < now - timedelta(seconds=policy.failed_time)).limit(_BATCH)
                    ).scalars():
                failed.append({"job_id": job_id, "status": JobStatus.FAILED, "minor_status": minor,
                               "end_exec_time": now, "last_update_time": now})
                if policy.reschedule_stalled:
                    again.append(job_id)
                changes.append(StatusChange(job_id, JobStatus.STALLED, JobStatus.FAILED, minor, now,
                                            "StalledJobs"))
        set_job_rows(conn, stalled)
        set_job_rows(conn, failed)
        insert_history(conn, [history_row(c.job_id, c.new, c.minor_status or None, None, now,
                                          "StalledJobs") for c in changes])
        add_commands(conn, [r["job_id"] for r in failed], "Kill", now)
    wms.notify(changes)
    if again:
        wms.reschedule(again)
    return len(changes)


def recover_matched(wms: WorkloadManager) -> int:
    """Reschedule jobs Matched for longer than ``matched_time`` (their pilot never started them)."""
    now = wms.clock.now()
    own = sorted(wms.config.operations.vos)
    stuck: list[int] = []
    with wms.database.begin(read_only=True) as conn:
        for policy, vos in _vos_by_policy(wms):
            before = now - timedelta(seconds=policy.matched_time)
            stuck.extend(conn.execute(select(jobs.c.job_id).where(
                _vo_filter(vos, own), jobs.c.status == JobStatus.MATCHED,
                jobs.c.last_update_time < before).limit(_BATCH)).scalars())
    if not stuck:
        return 0
    return len(wms.reschedule(stuck).ok)


def remove_old_jobs(wms: WorkloadManager) -> int:
    """Delete final jobs older than ``remove_delay``; remove Deleted jobs from every table."""
    now = wms.clock.now()
    own = sorted(wms.config.operations.vos)
    old: list[int] = []
    with wms.database.begin(read_only=True) as conn:
        for policy, vos in _vos_by_policy(wms):
            delay = policy.remove_delay
            if not delay:
                continue
            old.extend(conn.execute(select(jobs.c.job_id).where(
                _vo_filter(vos, own), jobs.c.status.in_(sorted(FINAL_JOB_STATUSES)),
                jobs.c.last_update_time < now - timedelta(seconds=delay)).limit(_BATCH)).scalars())
    if old:
        wms.delete(old)
    with wms.database.begin() as conn:
        gone = list(conn.execute(select(jobs.c.job_id).where(jobs.c.status == JobStatus.DELETED)
                                 .limit(_BATCH)).scalars())
        for part in chunks(gone):
            for table in (job_history, heartbeats, job_commands, job_to_pilot, job_parameters,
                          input_data, job_jdls):
                conn.execute(delete(table).where(table.c.job_id.in_(part)))
            dequeue(conn, part)
            removed = read_statuses(conn, part, "vo", "owner_group", lock=True)
            conn.execute(delete(jobs).where(jobs.c.job_id.in_(part)))
            status_counts.record(conn, ((s["vo"], s["owner_group"], s["status"], None)
                                        for s in removed.values()))
    return len(gone)


def clean_heartbeats(wms: WorkloadManager) -> int:
    """Remove heartbeat metrics older than the default policy's ``heartbeat_retention``."""
    before = wms.clock.now() - timedelta(seconds=wms.config.operations.defaults.heartbeat_retention)
    with wms.database.begin() as conn:
        return conn.execute(delete(heartbeats).where(heartbeats.c.heartbeat_time < before)).rowcount


def maintain_queues(wms: WorkloadManager) -> int:
    """Remove task queues empty for five minutes and recompute every queue's priority."""
    now = wms.clock.now()
    with wms.database.begin() as conn:
        removed = remove_empty_queues(conn, wms.config.registry, now - timedelta(minutes=5))
        recompute_priorities(conn, wms.config.registry)
    wms.matcher.index.refresh()
    return removed


def fold_status_counts(wms: WorkloadManager) -> int:
    """Fold the pending status changes into the status counts; how many change rows."""
    total = 0
    while True:
        with wms.database.begin() as conn:
            done = status_counts.fold(conn)
        total += done
        if done < status_counts.FOLD_LIMIT:
            return total

"""Records built from what the workload tables know when a job or a pilot ends.

A job's record takes its attributes from ``wms_jobs``, its CPU and wall-clock seconds from the
job parameters the job wrapper reports (``TotalCPUTime(s)``, ``WallClockTime(s)``; else the
last ``CPUConsumed`` heartbeat and the execution times), its processors from its JDL. Whether a
job was accounted is ``wms_jobs.accounted_flag``: set in the transaction that writes its record,
so that a job is accounted once per execution however many times its final status is reported,
and cleared when the job is rescheduled, so that its next execution is accounted too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, false, func, select, update

from dirac_core.accounting.records import JobRecord, PilotRecord
from dirac_core.db.chunks import ids_in
from dirac_core.db.tables import wms
from dirac_core.model.job import JobStatus
from dirac_core.model.pilot import PilotStatus
from dirac_core.wms.store import read_jdls

__all__ = ["ACCOUNTED_STATUSES", "CPU_PARAMETER", "WALL_PARAMETER", "job_records", "mark_accounted",
           "pilot_record", "reopen"]

#: A job is accounted when it reaches one of these (Completed waits for its requests: it ends
#: Done or Failed later, and is accounted then).
ACCOUNTED_STATUSES = frozenset({JobStatus.DONE, JobStatus.FAILED, JobStatus.KILLED})
#: The job parameters the job wrapper reports (DIRAC's names).
CPU_PARAMETER = "TotalCPUTime(s)"
WALL_PARAMETER = "WallClockTime(s)"
_HEARTBEAT_CPU = "CPUConsumed"
_PROCESSORS = re.compile(r"\b(?:Min)?NumberOfProcessors\s*=\s*(\d+)", re.IGNORECASE)
_COLUMNS = ("job_id", "status", "owner", "owner_group", "vo", "site", "job_type", "start_exec_time",
            "end_exec_time")


def _number(text: Any) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if value >= 0 else None


def _parameters(conn: Connection, ids: Sequence[int]) -> dict[int, dict[str, float]]:
    p = wms.job_parameters.c
    out: dict[int, dict[str, float]] = {}
    for where in ids_in(conn, p.job_id, ids):
        stmt = select(p.job_id, p.name, p.value).where(where, p.name.in_([CPU_PARAMETER, WALL_PARAMETER]))
        for job_id, name, value in conn.execute(stmt):
            number = _number(value)
            if number is not None:
                out.setdefault(job_id, {})[name] = number
    return out


def _heartbeat_cpu(conn: Connection, ids: Sequence[int]) -> dict[int, float]:
    """The largest CPU time a job's heartbeats reported (it only grows)."""
    h = wms.heartbeats.c
    out: dict[int, float] = {}
    for where in ids_in(conn, h.job_id, ids):
        stmt = select(h.job_id, h.value).where(where, h.name == _HEARTBEAT_CPU)
        for job_id, value in conn.execute(stmt):
            number = _number(value)
            if number is not None:
                out[job_id] = max(out.get(job_id, 0.0), number)
    return out


def _last_start(conn: Connection, ids: Sequence[int]) -> dict[int, datetime]:
    """When each job last became Running: the start of its latest execution (``start_exec_time``
    keeps the first one across reschedulings)."""
    h = wms.job_history.c
    out: dict[int, datetime] = {}
    for where in ids_in(conn, h.job_id, ids):
        stmt = (select(h.job_id, func.max(h.status_time))
                .where(where, h.status == JobStatus.RUNNING, h.refused == false()).group_by(h.job_id))
        out.update((job_id, when) for job_id, when in conn.execute(stmt))
    return out


def _processors(jdl: str | None) -> int:
    found = _PROCESSORS.search(jdl or "")
    return max(1, int(found.group(1))) if found else 1


def job_records(conn: Connection, job_ids: Sequence[int], when: datetime, *,
                lock: bool = False) -> list[JobRecord]:
    """Records of the jobs among ``job_ids`` that are in an accounted status and not accounted yet.

    ``when`` is the end time of a job that has no ``end_exec_time``; ``lock`` reads the job rows
    ``FOR UPDATE`` (a server backend: two processes accounting one job write one record).
    """
    j = wms.jobs.c
    rows: list[Any] = []
    for where in ids_in(conn, j.job_id, sorted(set(job_ids))):
        stmt = select(*(j[n] for n in _COLUMNS)).where(
            where, j.status.in_(sorted(ACCOUNTED_STATUSES)), j.accounted_flag == false())
        rows.extend(conn.execute(stmt.with_for_update() if lock else stmt).mappings())
    if not rows:
        return []
    ids = [row["job_id"] for row in rows]
    parameters = _parameters(conn, ids)
    heartbeats = _heartbeat_cpu(conn, ids)
    started = _last_start(conn, ids)
    jdls = read_jdls(conn, ids)
    out = []
    for row in rows:
        job_id = row["job_id"]
        end = row["end_exec_time"] or when
        start = started.get(job_id, row["start_exec_time"])
        if start is not None and start > end:  # a history record later than the end: do not trust it
            start = row["start_exec_time"]
        reported = parameters.get(job_id, {})
        wall = reported.get(WALL_PARAMETER)
        if wall is None:
            wall = max(0.0, (end - start).total_seconds()) if start is not None else 0.0
        cpu = reported.get(CPU_PARAMETER, heartbeats.get(job_id, 0.0))
        out.append(JobRecord(job_id=job_id, owner=row["owner"], group=row["owner_group"], vo=row["vo"],
                             site=row["site"], status=row["status"], job_type=row["job_type"],
                             cpu_seconds=cpu, wall_seconds=wall, processors=_processors(jdls.get(job_id)),
                             start=start, end=end))
    return out


def mark_accounted(conn: Connection, job_ids: Sequence[int], accounted: bool = True) -> None:
    """Set (or clear) the jobs' ``accounted_flag``."""
    for where in ids_in(conn, wms.jobs.c.job_id, sorted(set(job_ids))):
        conn.execute(update(wms.jobs).where(where).values(accounted_flag=accounted))


def reopen(conn: Connection, job_ids: Sequence[int]) -> None:
    """Rescheduled jobs will run again: their next execution is to be accounted."""
    mark_accounted(conn, job_ids, accounted=False)


def pilot_record(conn: Connection, stamp: str, details: Mapping[str, Any], when: datetime
                 ) -> PilotRecord | None:
    """The record of a pilot that ended, from its row and the event's ``details`` (None when the
    pilot is unknown or not in a final status).

    Its wall-clock time runs from the moment it reported Running (``details["previous_update"]``
    when it was Running just before it ended) to ``when``; a pilot that never ran used none.
    """
    row = conn.execute(select(wms.pilots).where(wms.pilots.c.pilot_stamp == stamp)).mappings().first()
    if row is None or not PilotStatus(row["status"]).is_final:
        return None
    count = conn.execute(select(func.count()).select_from(wms.job_to_pilot)
                         .where(wms.job_to_pilot.c.pilot_stamp == stamp)).scalar_one()
    started = details.get("previous_update")
    wall = 0.0
    if details.get("previous_status") == PilotStatus.RUNNING and isinstance(started, datetime):
        wall = max(0.0, (when - started).total_seconds())
    return PilotRecord(pilot_stamp=stamp, vo=row["vo"], site=row["grid_site"] or row["destination_site"],
                       ce=row["destination_site"], queue=row["queue"], status=row["status"],
                       jobs=int(count), wall_seconds=wall, end=when)

"""Low-level reads and writes of the job store shared by the WMS modules.

Statements are built once at import with bind parameters, so a bulk call is
one ``executemany`` per table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    bindparam,
    insert,
    select,
    update,
)
from sqlalchemy import exc as sa_exc

from dirac_core.db.bulk import bulk_insert, bulk_update
from dirac_core.db.chunks import CHUNK, chunks, ids_in
from dirac_core.db.database import Database
from dirac_core.db.tables.wms import counters, job_commands, job_history, job_jdls, jobs
from dirac_core.errors import NotFound
from dirac_core.model.job import JobStatus
from dirac_core.wms.status_counts import record as record_changes
from dirac_core.wms.status_counts import transitions

__all__ = [
    "CHUNK",
    "add_commands",
    "allocate_job_ids",
    "chunks",
    "history_row",
    "ids_in",
    "insert_history",
    "job_not_found",
    "read_jdls",
    "read_statuses",
    "set_job_rows",
]

#: Jobs that get the same values are updated by one ``IN (...)`` from this many on.
_GROUP_MIN = 16
#: History inserts go through :func:`bulk_insert` from this many rows on.
_BULK_MIN = 64

_BUMP = (update(counters).where(counters.c.name == bindparam("b_name"))
         .values(value=counters.c.value + bindparam("b_n")))
_READ = select(counters.c.value).where(counters.c.name == bindparam("b_name"))
_INSERT_HISTORY = insert(job_history)


def job_not_found(job_id: int) -> NotFound:
    """The error of a bulk item naming a job that does not exist."""
    return NotFound(f"job {job_id} does not exist", job_id=job_id)


def allocate_job_ids(database: Database, count: int) -> range:
    """Reserve ``count`` consecutive job ids, in a transaction of their own.

    Ids of a submission that fails later are lost (like an auto-increment):
    concurrent submitters never wait for each other's bulk inserts.
    """
    if count <= 0:
        return range(0)
    for _ in range(3):
        with database.begin() as conn:
            if conn.execute(_BUMP, {"b_name": "job_id", "b_n": count}).rowcount == 1:
                end = int(conn.execute(_READ, {"b_name": "job_id"}).scalar_one())
                return range(end - count, end)
        try:
            with database.begin() as conn:
                conn.execute(insert(counters).values(name="job_id", value=1 + count))
                return range(1, 1 + count)
        except sa_exc.IntegrityError:
            continue  # another process created the counter first: bump it
    raise RuntimeError("could not allocate job ids")  # pragma: no cover


def history_row(job_id: int, status: JobStatus | None, minor: str | None,  # noqa: PLR0917
                application: str | None, when: datetime, source: str,
                refused: bool = False) -> dict[str, Any]:
    """One status-history record (None parts mean "unchanged")."""
    # positional on purpose: it mirrors the history columns, and is called in tight loops
    return {"job_id": job_id, "status": status, "minor_status": minor and minor[:128],
            "application_status": application and application[:255], "status_time": when,
            "source": source[:64],
            "refused": refused}


def insert_history(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Append history records."""
    if len(rows) >= _BULK_MIN:
        bulk_insert(conn, job_history, rows)
    elif rows:
        conn.execute(_INSERT_HISTORY, list(rows))


def read_statuses(conn: Connection, job_ids: Iterable[int],
                  *columns: str, lock: bool = False) -> dict[int, dict[str, Any]]:
    """``job id -> {status, <columns>...}`` for the jobs that exist; ``lock``: ``FOR UPDATE``."""
    ids = sorted(set(job_ids))
    names = ("job_id", "status", *columns)
    cols = [jobs.c[name] for name in names]
    out: dict[int, dict[str, Any]] = {}
    for where in ids_in(conn, jobs.c.job_id, ids):
        stmt = select(*cols).where(where)
        for row in conn.execute(stmt.with_for_update() if lock else stmt).all():
            out[row[0]] = dict(zip(names, row, strict=True))
    return out


def read_jdls(conn: Connection, job_ids: Iterable[int]) -> dict[int, str]:
    """``job id -> JDL`` for the jobs that exist."""
    ids = sorted(set(job_ids))
    out: dict[int, str] = {}
    for part in chunks(ids):
        out.update(conn.execute(select(job_jdls.c.job_id, job_jdls.c.jdl)
                                .where(job_jdls.c.job_id.in_(part))).all())
    return out


def set_job_rows(conn: Connection, values: Sequence[dict[str, Any]], *,
                 before: Mapping[int, Mapping[str, Any]] | None = None) -> None:
    """Update jobs; every dict has ``job_id`` and the same other keys.

    Jobs given the same values (a bulk kill, many jobs set Running at one
    time) are updated with ``job_id IN (...)``, a statement per ``CHUNK``
    jobs: on MariaDB an ``executemany`` of UPDATEs is a round trip per row.
    The other rows go through :func:`~dirac_core.db.bulk.bulk_update`. Status changes are
    recorded for the status counts (:mod:`dirac_core.wms.status_counts`), from the jobs' rows
    read and locked here, so the counts stay exact whatever the caller read before; or from
    ``before`` (job id -> ``status``, ``vo``, ``owner_group``), which the caller read with
    the rows locked in this transaction.
    """
    if not values:
        return
    keys = [k for k in values[0] if k != "job_id"]
    if "status" in keys:  # the status counts: the jobs' states as this transaction replaces them
        known = before if before is not None else read_statuses(
            conn, (r["job_id"] for r in values), "vo", "owner_group", lock=True)
        record_changes(conn, transitions(known, values))
    rest: Sequence[dict[str, Any]] = values
    groups: dict[tuple[Any, ...], list[int]] = {}
    try:
        for row in values:
            groups.setdefault(tuple(row[k] for k in keys), []).append(row["job_id"])
    except TypeError:  # an unhashable value: row by row
        groups = {}
    if groups and len(groups) < len(values) and len({r["job_id"] for r in values}) == len(values):
        shared = {vals for vals, ids in groups.items() if len(ids) >= _GROUP_MIN}
        for vals in shared:
            assignments = dict(zip(keys, vals, strict=True))
            for where in ids_in(conn, jobs.c.job_id, groups[vals]):
                conn.execute(update(jobs).where(where).values(assignments))
        if shared:
            rest = [row for row in values if tuple(row[k] for k in keys) not in shared]
    bulk_update(conn, jobs.c.job_id, rest)


def add_commands(conn: Connection, job_ids: Iterable[int], command: str, when: datetime,
                 arguments: str = "") -> None:
    """Queue ``command`` for each job (delivered with its next heartbeat)."""
    rows = [{"job_id": j, "command": command, "arguments": arguments, "status": "Received",
             "reception_time": when} for j in job_ids]
    if rows:
        conn.execute(insert(job_commands), rows)

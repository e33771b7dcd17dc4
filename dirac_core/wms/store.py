"""Low-level reads and writes of the job store shared by the WMS modules.

Statements are built once at import with bind parameters, so a bulk call is
one ``executemany`` per table.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy import exc as sa_exc

from dirac_core.db.database import Database
from dirac_core.db.tables.wms import counters, job_commands, job_history, job_jdls, jobs
from dirac_core.model.job import JobStatus

__all__ = [
    "CHUNK",
    "add_commands",
    "allocate_job_ids",
    "chunks",
    "history_row",
    "insert_history",
    "read_jdls",
    "read_statuses",
    "set_job_rows",
]

#: The largest ``IN (...)`` list sent at once.
CHUNK = 500

_BUMP = (update(counters).where(counters.c.name == bindparam("b_name"))
         .values(value=counters.c.value + bindparam("b_n")))
_READ = select(counters.c.value).where(counters.c.name == bindparam("b_name"))
_INSERT_HISTORY = insert(job_history)


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """``items`` in slices of at most ``size``."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


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


def history_row(job_id: int, status: JobStatus | None, minor: str | None, application: str | None,
                when: datetime, source: str, refused: bool = False) -> dict[str, Any]:
    """One status-history record (None parts mean "unchanged")."""
    return {"job_id": job_id, "status": status, "minor_status": minor,
            "application_status": application, "status_time": when, "source": source[:64],
            "refused": refused}


def insert_history(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Append history records."""
    if rows:
        conn.execute(_INSERT_HISTORY, list(rows))


def read_statuses(conn: Connection, job_ids: Iterable[int],
                  *columns: str) -> dict[int, dict[str, Any]]:
    """``job id -> {status, <columns>...}`` for the jobs that exist."""
    ids = sorted(set(job_ids))
    cols = [jobs.c.job_id, jobs.c.status, *(jobs.c[name] for name in columns)]
    out: dict[int, dict[str, Any]] = {}
    for part in chunks(ids):
        for row in conn.execute(select(*cols).where(jobs.c.job_id.in_(part))).mappings():
            out[row["job_id"]] = dict(row)
    return out


def read_jdls(conn: Connection, job_ids: Iterable[int]) -> dict[int, str]:
    """``job id -> JDL`` for the jobs that exist."""
    ids = sorted(set(job_ids))
    out: dict[int, str] = {}
    for part in chunks(ids):
        out.update(conn.execute(select(job_jdls.c.job_id, job_jdls.c.jdl)
                                .where(job_jdls.c.job_id.in_(part))).all())
    return out


def set_job_rows(conn: Connection, values: Sequence[dict[str, Any]]) -> None:
    """Update jobs; every dict has ``job_id`` and the same other keys."""
    if not values:
        return
    keys = [k for k in values[0] if k != "job_id"]
    stmt = (update(jobs).where(jobs.c.job_id == bindparam("b_job_id"))
            .values({k: bindparam(f"b_{k}") for k in keys}))
    conn.execute(stmt, [{f"b_{k}": v for k, v in row.items()} for row in values])


def add_commands(conn: Connection, job_ids: Iterable[int], command: str, when: datetime,
                 arguments: str = "") -> None:
    """Queue ``command`` for each job (delivered with its next heartbeat)."""
    rows = [{"job_id": j, "command": command, "arguments": arguments, "status": "Received",
             "reception_time": when} for j in job_ids]
    if rows:
        conn.execute(insert(job_commands), rows)

"""A million jobs in ``wms_jobs``, written through the bare DBAPI, for the job monitor benchmark.

The jobs belong to one VO (the worst case for its administrator's queries), 200 owners in 10
groups, 200 sites, statuses in the proportions of a busy production system (mostly ended).
Rows are generated in chunks and written with the driver's fastest plain path: ``executemany``
(MariaDB's driver turns it into multi-row INSERTs; SQLite runs it in C) or ``COPY`` (PostgreSQL).
:func:`registry` and :func:`resources` are the configuration sections of that VO (its owners,
their groups and an administrator; its sites), for the portal's pages over the same jobs.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from dirac_core.db import Database
from dirac_core.wms import status_counts

VO = "demo"
OWNERS = [f"user{i:03d}" for i in range(200)]
GROUPS = [f"group{i}" for i in range(10)]
SITES = [f"LCG.Site{i:03d}.org" for i in range(200)]
#: status -> share of the jobs (sums to 1)
STATUSES = {"Done": 0.55, "Failed": 0.10, "Killed": 0.03, "Completed": 0.02, "Running": 0.08,
            "Waiting": 0.15, "Matched": 0.02, "Received": 0.02, "Checking": 0.01, "Stalled": 0.01,
            "Deleted": 0.01}
COLUMNS = ("job_id", "status", "minor_status", "application_status", "owner", "owner_group", "vo",
           "job_name", "job_type", "job_group", "site", "user_priority", "cpu_time", "submission_time",
           "last_update_time", "reschedule_time", "start_exec_time", "end_exec_time", "heartbeat_time",
           "reschedule_counter", "verified_flag", "accounted_flag")
#: the VO's job administrator and their group (JobAdministrator: every job of the VO)
ADMIN = "admin"
ADMIN_GROUP = "demo_admin"
CHUNK = 50_000
START = datetime(2026, 1, 1, tzinfo=UTC)


def group_of(owner: str) -> str:
    """The group of one of the :data:`OWNERS` (its jobs' ``owner_group``)."""
    return GROUPS[OWNERS.index(owner) % len(GROUPS)]


def registry(password_hash: str, logins: Sequence[str]) -> dict[str, Any]:
    """The ``[registry]`` of the jobs' VO: every owner in their group (NormalUser), :data:`ADMIN`
    in :data:`ADMIN_GROUP` (JobAdministrator); the users in ``logins`` have ``password_hash``
    (the built-in identity provider's, to log in to the portal)."""
    users: dict[str, dict[str, Any]] = {name: {"name": name} for name in (*OWNERS, ADMIN)}
    for name in logins:
        users[name]["password_hash"] = password_hash
    groups: dict[str, dict[str, Any]] = {
        group: {"name": group, "vo": VO, "users": [o for o in OWNERS if group_of(o) == group],
                "properties": ["NormalUser"]} for group in GROUPS}
    groups[ADMIN_GROUP] = {"name": ADMIN_GROUP, "vo": VO, "users": [ADMIN],
                           "properties": ["NormalUser", "JobAdministrator"]}
    return {"vos": {VO: {"name": VO}}, "users": users, "groups": groups}


def resources() -> dict[str, Any]:
    """The ``[resources]`` of the jobs' 200 sites, all in the mask (the monitor lists them)."""
    sites: dict[str, dict[str, Any]] = {}
    for site in SITES:
        sites.setdefault(site.split(".")[0], {})[site] = {"name": site}
    return {"site_mask": list(SITES), "sites": sites}


def _rows(count: int, seed: int = 11) -> Iterator[list[tuple[Any, ...]]]:
    rng = random.Random(seed)
    names, weights = list(STATUSES), list(STATUSES.values())
    chunk: list[tuple[Any, ...]] = []
    for job_id in range(1, count + 1):
        status = rng.choices(names, weights)[0]
        owner = rng.randrange(len(OWNERS))
        submitted = (START + timedelta(seconds=job_id * 2.5)).replace(tzinfo=None)
        queued = status in ("Waiting", "Received", "Checking")
        started = None if queued else submitted + timedelta(minutes=10)
        ended = started + timedelta(hours=2) if started is not None and status in (
            "Done", "Failed", "Killed", "Completed") else None
        chunk.append((job_id, status, "Execution Complete" if status == "Done" else "", "Unknown",
                      OWNERS[owner], GROUPS[owner % len(GROUPS)], VO, f"job_{job_id}", "User",
                      f"prod_{job_id // 10_000}", rng.choice(SITES) if started else "ANY",
                      rng.randrange(10), 86_400, submitted, ended or started or submitted, None, started,
                      ended, ended or started, 0, True, False))
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _sqlite_row(row: tuple[Any, ...]) -> tuple[Any, ...]:
    """SQLite stores SQLAlchemy's DateTime as ISO text with microseconds."""
    return tuple(v.strftime("%Y-%m-%d %H:%M:%S.%f") if isinstance(v, datetime) else v for v in row)


def fill_jobs(database: Database, count: int) -> float:
    """Write ``count`` jobs into an empty ``wms_jobs`` (and count them for the maintained status
    counts); the seconds it took."""
    start = time.perf_counter()
    raw = database.engine.raw_connection()
    try:
        cursor = raw.cursor()
        dialect = database.dialect
        names = ", ".join(COLUMNS)
        for chunk in _rows(count):
            if dialect == "postgresql":
                with cursor.copy(f"COPY wms_jobs ({names}) FROM STDIN") as copy:  # type: ignore[attr-defined]
                    for row in chunk:
                        copy.write_row(row)
            elif dialect == "sqlite":
                cursor.execute("BEGIN")
                cursor.executemany(f"INSERT INTO wms_jobs ({names}) VALUES ({', '.join('?' * len(COLUMNS))})",
                                   [_sqlite_row(r) for r in chunk])
            else:
                cursor.executemany(f"INSERT INTO wms_jobs ({names}) VALUES "
                                   f"({', '.join(['%s'] * len(COLUMNS))})", chunk)
            raw.commit()
        if dialect == "postgresql":
            raw.commit()
    finally:
        raw.close()
    with database.begin() as conn:  # rows written behind the WMS's back: count them once
        status_counts.rebuild(conn)
    settle(database)
    return time.perf_counter() - start


def settle(database: Database) -> None:
    """Statistics as a server keeps them after a bulk load: PostgreSQL ``VACUUM ANALYZE`` (the
    visibility map makes index-only scans possible), MariaDB ``ANALYZE TABLE``, SQLite ``ANALYZE``."""
    if database.dialect == "postgresql":
        with database.autocommit() as conn:
            conn.exec_driver_sql("VACUUM ANALYZE wms_jobs")
    else:
        with database.begin() as conn:
            conn.exec_driver_sql("ANALYZE TABLE wms_jobs" if database.dialect == "mysql" else "ANALYZE")

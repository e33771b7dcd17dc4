"""Scenarios of the WMS benchmarks: a 200-site grid, seeding, pilots and the raw-driver baselines.

Kept out of the test module so that matcher processes started with ``spawn``
import this (and dirac-core) only. Every function takes the database URL as
text, so it can run in a fresh process.
"""

from __future__ import annotations

import statistics
import time
import tomllib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from dirac_core.config import load_config
from dirac_core.config.toml_writer import dumps_toml
from dirac_core.db import Database
from dirac_core.interware import EMBEDDED_CONFIG, Interware
from dirac_core.model.identity import Identity

#: The grid: 200 sites, all in the mask.
SITES: tuple[str, ...] = tuple(f"DIRAC.Bench{i:03d}.org" for i in range(200))
#: Five owners in ``demo_user``: with the sites, 1,000 task queues.
OWNERS: tuple[str, ...] = tuple(f"owner{i}" for i in range(5))
#: The pilot identity of every match.
PILOT = Identity(user="pilot", group="demo_user", vo="demo", properties={"GenericPilot"})
#: The tables a submission writes, in insertion order, and the columns the raw copy inserts.
SUBMISSION_TABLES = ("wms_jobs", "wms_job_jdls", "wms_job_history", "wms_tq_jobs")


def grid_config_text(url: str, root: Path) -> str:
    """The embedded configuration on ``url`` with 200 sites, five more owners, big parametrics."""
    data: dict[str, Any] = tomllib.loads(EMBEDDED_CONFIG.format(root=root.as_posix()))
    data["database"]["url"] = url
    data["registry"]["users"].update({name: {"name": name} for name in OWNERS})
    data["registry"]["groups"]["demo_user"]["users"].extend(OWNERS)
    data["resources"]["sites"]["DIRAC"].update({site: {"name": site} for site in SITES})
    data["resources"]["site_mask"].extend(SITES)
    data["operations"] = {"defaults": {"max_parametric_jobs": 20_000}}
    return dumps_toml(data)


def make_interware(url: str, root: Path, *, migrate: bool = True) -> Interware:
    """An interware on ``url`` with the benchmark grid."""
    return Interware.from_config(load_config(grid_config_text(url, root), format="toml"),
                                 migrate=migrate)


def owner(name: str) -> Identity:
    """A submitting identity (``demo_user``, NormalUser)."""
    return Identity(user=name, group="demo_user", vo="demo", properties={"NormalUser"})


def parametric_jdl(count: int) -> str:
    """One JDL standing for ``count`` jobs of one task queue."""
    return (f'[Executable = "/bin/echo"; Arguments = "job %s"; JobName = "bench_%n"; '
            f'CPUTime = 3600; Parameters = {count};]')


def distinct_jdls(count: int) -> list[str]:
    """``count`` different JDLs spread over the 200 sites."""
    return [f'[Executable = "/bin/echo"; Arguments = "job {i}"; JobName = "bench_{i}"; '
            f'CPUTime = 3600; Site = "{SITES[i % len(SITES)]}";]' for i in range(count)]


def seed_waiting(iw: Interware, per_queue: int) -> int:
    """Submit ``per_queue`` jobs to each of the 1,000 queues (site x owner) with bulk submits.

    One parametric JDL per owner whose ``Site`` takes every site ``per_queue`` times.
    Returns the number of jobs submitted.
    """
    sites = ", ".join(f'"{site}"' for site in SITES * per_queue)
    jdl = (f'[Executable = "/bin/echo"; Arguments = "job %n"; CPUTime = 3600; '
           f'Site = "%s"; Parameters = {{{sites}}};]')
    total = 0
    for name in OWNERS:
        total += len(iw.wms.submit(jdl, owner(name)))
    return total


def pilot_resource(i: int) -> dict[str, Any]:
    """The resource description of pilot ``i``: the 200 sites in turn."""
    return {"Site": SITES[i % len(SITES)], "CPUTime": 100_000, "PilotReference": f"pilot{i}"}


@attrs.frozen
class MatchRun:
    """What one matcher process did: matches made, per-match latencies, start and end time,
    and the CPU seconds the process used meanwhile (Python, driver and, on SQLite, the database)."""

    matched: int
    latencies: list[float]
    start: float
    end: float
    cpu: float = 0.0


def match_loop(iw: Interware, first: int, count: int, *, warmup: int = 0,
               batch: int = 1) -> MatchRun:
    """Match ``count`` pilots (numbered from ``first``) after ``warmup`` untimed ones.

    With ``batch`` > 1 the pilots come ``batch`` at a time through ``match_many``
    (one transaction each); the latency recorded per match is its call's latency.
    """
    for i in range(warmup):
        iw.wms.match(pilot_resource(first - warmup + i), PILOT)
    latencies: list[float] = []
    matched = 0
    clock = time.perf_counter
    cpu = time.process_time()
    start = clock()
    for i in range(first, first + count, batch):
        t0 = clock()
        if batch == 1:
            found = [iw.wms.match(pilot_resource(i), PILOT)]
        else:
            end = min(i + batch, first + count)
            found = iw.wms.match_many([pilot_resource(j) for j in range(i, end)], PILOT)
        elapsed = clock() - t0
        latencies.extend([elapsed] * len(found))
        matched += sum(got is not None for got in found)
    return MatchRun(matched, latencies, start, clock(), time.process_time() - cpu)


@attrs.frozen(kw_only=True)
class MatcherSpec:
    """What one matcher process does: pilots ``first`` .. ``first + count`` after a warm-up."""

    url: str
    root: str
    first: int
    count: int
    warmup: int
    batch: int = 1


def match_worker(spec: MatcherSpec, barrier: Any, results: Any) -> None:
    """A matcher process: its own interware, warm-up, then ``spec.count`` timed matches."""
    with make_interware(spec.url, Path(spec.root), migrate=False) as iw:
        for i in range(spec.warmup):  # untimed: queue index and per-site eligibility
            iw.wms.match(pilot_resource(spec.first - spec.warmup + i), PILOT)
        barrier.wait()
        results.put(match_loop(iw, spec.first, spec.count, batch=spec.batch))


def raw_claim_worker(url: str, count: int, tq_ids: Sequence[int], barrier: Any,
                     results: Any) -> None:
    """The raw baseline in a process: ``count`` claims by :func:`raw_claims`."""
    database = Database(url)
    try:
        barrier.wait()
        results.put(raw_claims(database, count, tq_ids))
    finally:
        database.close()


def _marker(database: Database) -> str:
    return "?" if database.engine.dialect.paramstyle == "qmark" else "%s"


def raw_claims(database: Database, count: int, tq_ids: Sequence[int]) -> MatchRun:
    """What a claim writes, one plain DBAPI statement at a time, one commit per claim.

    Pick the queue's best job (SKIP LOCKED where the backend has it) with its
    JDL, delete its queue row, set it Matched, insert its history record, its
    pilot mapping and its status change (the status counts), commit. Queues are taken in turn from ``tq_ids``.
    """
    m = _marker(database)
    lock = " FOR UPDATE SKIP LOCKED" if database.supports_skip_locked else ""
    pick = (f"SELECT q.job_id, (SELECT jdl FROM wms_job_jdls AS d WHERE d.job_id = q.job_id) "
            f"FROM wms_tq_jobs AS q WHERE q.tq_id = {m} "
            f"ORDER BY q.{_q(database, 'rank')}, q.job_id LIMIT 1{lock}")
    claim = f"DELETE FROM wms_tq_jobs WHERE job_id = {m}"
    matched_sql = (f"UPDATE wms_jobs SET status = 'Matched', minor_status = 'Assigned', "
                   f"application_status = 'Unknown', site = {m}, last_update_time = {m} "
                   f"WHERE job_id = {m} AND status = 'Waiting'")
    hist = ("INSERT INTO wms_job_history (job_id, status, minor_status, application_status, "
            f"status_time, source, refused) VALUES ({m}, {m}, {m}, {m}, {m}, {m}, {m})")
    pilot = f"INSERT INTO wms_job_to_pilot (job_id, pilot_stamp, start_time) VALUES ({m}, {m}, {m})"
    counted = ("INSERT INTO wms_status_changes (vo, owner_group, old_status, new_status, count) "
               f"VALUES ({m}, {m}, {m}, {m}, {m})")
    sqlite = database.dialect == "sqlite"
    raw = database.engine.raw_connection()
    latencies: list[float] = []
    matched = 0
    clock = time.perf_counter
    try:
        cur = raw.cursor()
        start = clock()
        for i in range(count):
            t0 = clock()
            if sqlite:
                cur.execute("BEGIN IMMEDIATE")
            cur.execute(pick, (tq_ids[i % len(tq_ids)],))
            row = cur.fetchone()
            if row is not None:
                job_id = row[0]
                cur.execute(claim, (job_id,))
                now: Any = datetime.now(UTC).replace(tzinfo=None)
                now = now.isoformat(sep=" ") if sqlite else now
                cur.execute(matched_sql, ("raw-site", now, job_id))
                cur.execute(hist, (job_id, "Matched", "Assigned", "Unknown", now, "raw", False))
                cur.execute(pilot, (job_id, f"raw{i}", now))
                cur.execute(counted, ("demo", "demo_user", "Waiting", "Matched", 1))
                matched += 1
            raw.commit()
            latencies.append(clock() - t0)
        return MatchRun(matched, latencies, start, clock())
    finally:
        raw.close()


def _q(database: Database, name: str) -> str:
    return database.engine.dialect.identifier_preparer.quote(name)


def summarize(runs: Sequence[MatchRun]) -> dict[str, float]:
    """Rate (over the wall time of all runs), median and p99 latency in ms."""
    latencies = sorted(x for run in runs for x in run.latencies)
    wall = max(r.end for r in runs) - min(r.start for r in runs)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    matched = sum(r.matched for r in runs)
    return {"rate": matched / wall, "median_ms": statistics.median(latencies) * 1e3,
            "p99_ms": p99 * 1e3, "matched": matched,
            "client_cpu_us": sum(r.cpu for r in runs) / max(1, matched) * 1e6}


def copy_rows(database: Database) -> dict[str, tuple[list[str], list[tuple[Any, ...]]]]:
    """Every row of the submission tables as the driver returns them (history without its id)."""
    out = {}
    raw = database.engine.raw_connection()
    try:
        cur = raw.cursor()
        for table in SUBMISSION_TABLES:
            cur.execute(f"SELECT * FROM {table}")
            columns = [d[0] for d in cur.description]
            rows = cur.fetchall()
            if table == "wms_job_history":
                keep = [i for i, c in enumerate(columns) if c != "id"]
                columns = [columns[i] for i in keep]
                rows = [tuple(r[i] for i in keep) for r in rows]
            out[table] = (columns, [tuple(r) for r in rows])
        raw.commit()
    finally:
        raw.close()
    return out


def raw_insert_seconds(database: Database,
                       rows: dict[str, tuple[list[str], list[tuple[Any, ...]]]]) -> float:
    """Seconds to empty the tables, then insert ``rows`` with one executemany per table, one commit.

    Only the inserts and the commit are timed.
    """
    m = _marker(database)
    raw = database.engine.raw_connection()
    try:
        cur = raw.cursor()
        for table in reversed(SUBMISSION_TABLES):
            cur.execute(f"DELETE FROM {table}")
        raw.commit()
        start = time.perf_counter()
        if database.dialect == "sqlite":
            cur.execute("BEGIN")
        for table, (columns, values) in rows.items():
            names = ", ".join(_q(database, c) for c in columns)
            cur.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join([m] * len(columns))})",
                            values)
        raw.commit()
        return time.perf_counter() - start
    finally:
        raw.close()


def raw_update_seconds(database: Database, job_ids: Sequence[int], *, grouped: bool) -> float:
    """Seconds to set ``job_ids`` Running and add one history row each, plain DBAPI.

    ``grouped``: one ``UPDATE ... WHERE job_id IN (500 ids)`` per 500 jobs (the
    statements ``set_status`` sends when the jobs get the same values); else an
    ``executemany`` of one UPDATE per job. History: one executemany.
    """
    m = _marker(database)
    sqlite = database.dialect == "sqlite"
    now = datetime.now(UTC).replace(tzinfo=None)
    when: Any = now.isoformat(sep=" ") if sqlite else now
    sets = ", ".join(f"{column} = {m}" for column in (
        "status", "minor_status", "application_status", "start_exec_time", "heartbeat_time",
        "last_update_time"))
    values = ("Running", "Application", "Unknown", when, when, when)
    hist = ("INSERT INTO wms_job_history (job_id, status, minor_status, application_status, "
            f"status_time, source, refused) VALUES ({m}, {m}, {m}, {m}, {m}, {m}, {m})")
    raw = database.engine.raw_connection()
    try:
        cur = raw.cursor()
        start = time.perf_counter()
        if sqlite:
            cur.execute("BEGIN IMMEDIATE")
        if grouped:
            for i in range(0, len(job_ids), 500):
                part = list(job_ids[i:i + 500])
                cur.execute(f"UPDATE wms_jobs SET {sets} WHERE job_id IN "
                            f"({', '.join([m] * len(part))})", (*values, *part))
        else:
            cur.executemany(f"UPDATE wms_jobs SET {sets} WHERE job_id = {m}",
                            [(*values, j) for j in job_ids])
        cur.executemany(hist, [(j, "Running", "Application", None, when, "JobWrapper", False)
                               for j in job_ids])
        raw.commit()
        return time.perf_counter() - start
    finally:
        raw.close()


#: InnoDB undo records left to purge below which MariaDB counts as settled
_PURGE_SETTLED = 1_000


def settle(database: Database, *, timeout: float = 60.0) -> float:
    """Let the server finish cleaning up after the set-up's deletes; the seconds it took.

    A set-up that empties tables of 100,000 jobs leaves MariaDB purging undo records and
    PostgreSQL dead rows for autovacuum, work that would otherwise land in the timed rounds.
    MariaDB: wait until InnoDB's history list is short (or ``timeout``). PostgreSQL: ``VACUUM
    ANALYZE`` the WMS tables. SQLite: nothing.
    """
    start = time.monotonic()
    if database.dialect == "mysql":
        while time.monotonic() - start < timeout:
            with database.connect() as conn:
                status = conn.exec_driver_sql("SHOW ENGINE INNODB STATUS").one()[2]
            length = int(status.split("History list length", 1)[1].split()[0])
            if length < _PURGE_SETTLED:
                break
            time.sleep(0.2)
    elif database.dialect == "postgresql":
        with database.autocommit() as conn:
            conn.exec_driver_sql("VACUUM ANALYZE wms_jobs, wms_job_history, wms_tq_jobs, wms_task_queues, "
                                 "wms_status_changes, wms_job_jdls")
    return time.monotonic() - start

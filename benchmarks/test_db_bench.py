"""Database layer throughput on SQLite, MariaDB and PostgreSQL, beside the raw driver's.

Run with ``nox -s bench``. Each benchmark prints our rate and the rate of the
same work done straight through the DBAPI driver, so the overhead of the
layer is visible.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from pytest_benchmark.fixture import BenchmarkFixture
from sqlalchemy import Column, Index, Integer, MetaData, String, Table, text

from dirac_core.db import Database, acquire_lease, release_lease
from dirac_core.model import FakeClock

ROWS = 100_000
bench_md = MetaData()
bench_rows = Table(
    "bench_rows", bench_md,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("owner", String(64), nullable=False),
    Column("site", String(64), nullable=False),
    Column("status", String(32), nullable=False),
    Column("cpu", Integer, nullable=False),
    Column("note", String(128), nullable=False),
    Index("ix_bench_rows_status", "status"),
)


def make_rows() -> list[dict[str, object]]:
    return [{"id": i, "owner": f"user{i % 97}", "site": f"LCG.Site{i % 13}.org",
             "status": ("Waiting", "Running", "Done")[i % 3], "cpu": i % 3600,
             "note": f"row {i}"} for i in range(ROWS)]


@pytest.fixture
def bench_db(database: Database) -> Iterator[Database]:
    bench_md.drop_all(database.engine)
    bench_md.create_all(database.engine)
    yield database
    bench_md.drop_all(database.engine)


def raw_insert_rate(db: Database, rows: list[dict[str, object]]) -> float:
    """Rows/s of the same insert through the bare DBAPI cursor."""
    columns = list(rows[0])
    marker = "?" if db.engine.dialect.paramstyle == "qmark" else "%s"
    sql = f"INSERT INTO bench_rows ({', '.join(columns)}) VALUES ({', '.join([marker] * len(columns))})"
    values = [tuple(r[c] for c in columns) for r in rows]
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("DELETE FROM bench_rows")
        raw.commit()
        start = time.perf_counter()
        if db.dialect == "sqlite":
            cur.execute("BEGIN")  # our connections run pysqlite without implicit transactions
        cur.executemany(sql, values)
        raw.commit()
        elapsed = time.perf_counter() - start
        cur.execute("DELETE FROM bench_rows")
        raw.commit()
    finally:
        raw.close()
    return len(rows) / elapsed


def test_bulk_insert_100k(benchmark: BenchmarkFixture, bench_db: Database) -> None:
    rows = make_rows()

    def empty() -> tuple[tuple[object, ...], dict[str, object]]:
        with bench_db.begin() as conn:
            conn.execute(bench_rows.delete())
        return (), {}

    def insert() -> None:
        with bench_db.begin() as conn:
            conn.execute(bench_rows.insert(), rows)

    benchmark.pedantic(insert, setup=empty, rounds=3, iterations=1)
    with bench_db.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM bench_rows")).scalar() == ROWS
    ours = ROWS / benchmark.stats.stats.mean
    raw = raw_insert_rate(bench_db, rows)
    benchmark.extra_info.update(ours_rows_per_s=round(ours), raw_rows_per_s=round(raw))
    print(f"\n[{bench_db.dialect}] executemany insert of {ROWS} rows: "
          f"dirac-core {ours:,.0f} rows/s, raw driver {raw:,.0f} rows/s")


def test_lease_cycle(benchmark: BenchmarkFixture, database: Database) -> None:
    """One acquire and one release per transaction: the cost of running a periodic task."""
    clock = FakeClock()

    def cycle() -> None:
        now = clock.advance(1)
        with database.begin() as conn:
            acquire_lease(conn, "bench", "replica", now, timedelta(seconds=30))
        with database.begin() as conn:
            release_lease(conn, "bench", "replica", now)

    benchmark.pedantic(cycle, rounds=200, iterations=1, warmup_rounds=5)
    rate = 1 / benchmark.stats.stats.mean
    raw = raw_commit_rate(database)
    benchmark.extra_info.update(cycles_per_s=round(rate), raw_commits_per_s=round(raw))
    print(f"\n[{database.dialect}] lease acquire+release (2 commits): {rate:,.0f} cycles/s; "
          f"raw driver: {raw:,.0f} single-row update commits/s")


def raw_commit_rate(db: Database, n: int = 200) -> float:
    """Commits/s of a one-row UPDATE through the bare DBAPI connection."""
    marker = "?" if db.engine.dialect.paramstyle == "qmark" else "%s"
    sql = f"UPDATE core_task_leases SET run_count = {marker} WHERE name = {marker}"
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        start = time.perf_counter()
        for i in range(n):
            if db.dialect == "sqlite":
                cur.execute("BEGIN IMMEDIATE")
            cur.execute(sql, (i, "bench"))
            raw.commit()
        return n / (time.perf_counter() - start)
    finally:
        raw.close()


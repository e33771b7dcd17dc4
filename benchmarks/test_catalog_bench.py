"""SQL file catalog throughput on SQLite, MariaDB and PostgreSQL, beside the raw driver's.

Run with ``nox -s bench`` or ``pytest benchmarks/test_catalog_bench.py -s --benchmark-enable
--benchmark-only``. ``DIRAC_BENCH_CATALOG_FILES`` sets the scale (default 1,000,000 files,
1,000 per directory; ``DIRAC_BENCH_CATALOG_FILES=20000`` for a quick run). Each benchmark
prints our figure, the issue's target and the figure of the same work done straight through
the DBAPI driver (no LFN checks, no directories, no usage, no result objects):

- register: the files, one replica each, in calls of 100,000 (``add_files`` with
  ``replicas``): rows of files, replicas, directories and usage written; raw: plain
  ``executemany`` of the file and replica rows;
- replica lookup: ``get_replicas`` of every LFN in one call; raw: one join per 100
  directories returning (LFN, SE id) rows;
- listing: ``list_directory`` of a directory of 100,000 files (a tenth of the files at
  smaller scales); raw: the names of its files;
- metadata query: two conditions selecting a quarter of the files, both on directory
  fields, then one directory and one file field; raw: the equivalent hand-written SQL.

Targets (at 1,000,000 files): register >= 60,000 files/s on SQLite, >= 30,000 on the servers;
lookup <= 3 s on SQLite, <= 5 s on the servers; listing <= 0.3 s; query <= 0.2 s.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture
from sqlalchemy import Connection, select, text

from dirac_core.db import Database
from dirac_core.db.tables.catalog import directories, storage_elements
from dirac_core.db.tables.catalog import metadata as catalog_metadata
from dirac_core.plugins.catalog import FileEntry
from dirac_core.testing.databases import TestDatabases, empty_all_tables, selected_backends
from dirac_plugins_catalog.sql import SQLFileCatalog

FILES = int(os.environ.get("DIRAC_BENCH_CATALOG_FILES", "1000000"))
PER_DIR = min(1_000, FILES)
DIRS = max(1, FILES // PER_DIR)
BIG_DIR = min(100_000, max(1, FILES // 10))
CALL = 100_000  # files per add_files call
SE = "CERN-DISK"

TARGETS: dict[tuple[str, str], float] = {
    **{("register", b): t for b, t in (("sqlite", 60_000), ("mysql", 30_000), ("postgresql", 30_000))},
    **{("replica lookup", b): t for b, t in (("sqlite", 3.0), ("mysql", 5.0), ("postgresql", 5.0))},
    **{("list 1 directory", b): 0.3 for b in ("sqlite", "mysql", "postgresql")},
    **{(f"query {kind}", b): 0.2 for b in ("sqlite", "mysql", "postgresql")
       for kind in ("dir+dir", "dir+file")},
}

_RESULTS: list[dict[str, Any]] = []


def _record(benchmark: BenchmarkFixture, name: str, backend: str, *, ours: float, raw: float,
            unit: str, higher_is_better: bool) -> None:
    target = TARGETS.get((name, backend))
    met = None if target is None else (ours >= target if higher_is_better else ours <= target)
    row = {"name": name, "backend": backend, "ours": ours, "target": target, "raw": raw, "unit": unit,
           "met": met}
    _RESULTS.append(row)
    benchmark.extra_info[name] = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}
    print(f"\n{_line(row)}")


def _line(row: dict[str, Any]) -> str:
    def fmt(value: float | None) -> str:
        if value is None:
            return f"{'-':>10}"
        return f"{value:>10,.0f}" if value >= 100 else f"{value:>10.3f}"
    verdict = "" if row["met"] is None else ("ok" if row["met"] else "MISSED")
    return (f"{row['name']:<18} {row['backend']:<10} {fmt(row['ours'])} {fmt(row['target'])} "
            f"{fmt(row['raw'])} {row['unit']:<8} {verdict}")


@pytest.fixture(scope="module", autouse=True)
def _summary() -> Iterator[None]:
    yield
    if _RESULTS:
        print(f"\n\nSQL catalog, {FILES:,} files{'':<4} {'ours':>10} {'target':>10} {'raw':>10}")
        for row in _RESULTS:
            print(_line(row))


def _best_seconds(benchmark: BenchmarkFixture) -> float:
    """The fastest round: the machine is shared, slower rounds measure the neighbours."""
    assert benchmark.stats is not None
    return float(benchmark.stats.stats.min)


def _directory(d: int) -> str:
    return f"/vo/data/2024/run{d:05d}"


def _entries() -> list[FileEntry]:
    return [FileEntry(lfn=f"{_directory(d)}/file_{i:07d}.root", size=1_000_000 + i, checksum=f"{i:08x}",
                      guid=str(uuid.uuid4()))
            for d in range(DIRS) for i in range(PER_DIR)]


def _empty(database: Database) -> None:
    """All tables emptied, and (PostgreSQL) vacuumed: the emptying deletes rows, and re-inserting
    the same keys next to a million dead index entries measures the dead entries."""
    empty_all_tables(database)
    _settle(database)


def _settle(database: Database) -> None:
    """Statistics and visibility maps as autovacuum leaves them soon after a bulk load (PostgreSQL:
    ``VACUUM ANALYZE``; MariaDB recomputes InnoDB statistics by itself; SQLite keeps none)."""
    if database.dialect == "postgresql":
        with database.autocommit() as conn:
            for table in catalog_metadata.sorted_tables:
                conn.exec_driver_sql(f"VACUUM ANALYZE {table.name}")


def _register(catalog: SQLFileCatalog, entries: list[FileEntry]) -> None:
    for start in range(0, len(entries), CALL):
        part = entries[start:start + CALL]
        catalog.add_files(part, replicas={e.lfn: [SE] for e in part}).raise_for_failures()


def _raw_cursor(conn: Connection) -> Any:
    return conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]


def _marker(conn: Connection) -> str:
    return "?" if conn.dialect.name == "sqlite" else "%s"


# -- registration ----------------------------------------------------------------------------------


def test_register(benchmark: BenchmarkFixture, database: Database) -> None:
    """FILES files with one replica each, in DIRS directories, in calls of 100,000."""
    entries = _entries()
    catalog = SQLFileCatalog(database)

    def empty() -> tuple[tuple[Any, ...], dict[str, Any]]:
        _empty(database)
        return (), {}

    benchmark.pedantic(lambda: _register(catalog, entries), setup=empty, rounds=1, iterations=1)
    assert catalog.directory_usage(["/vo"]).ok["/vo"].files == len(entries)
    ours = len(entries) / _best_seconds(benchmark)
    raw = len(entries) / _raw_register_seconds(database, entries)
    _record(benchmark, "register", database.dialect, ours=ours, raw=raw, unit="files/s",
            higher_is_better=True)


def _raw_register_seconds(database: Database, entries: list[FileEntry]) -> float:
    """The file and replica rows with plain ``executemany``, one transaction per 100,000."""
    _empty(database)
    now = datetime.now(UTC).replace(tzinfo=None)
    with database.begin() as conn:
        conn.execute(text("INSERT INTO catalog_users (name) VALUES ('root')"))
        conn.execute(text("INSERT INTO catalog_groups (name) VALUES ('root')"))
        conn.execute(text("INSERT INTO catalog_ses (name) VALUES (:se)"), {"se": SE})
        uid = conn.execute(text("SELECT user_id FROM catalog_users")).scalar_one()
        gid = conn.execute(text("SELECT group_id FROM catalog_groups")).scalar_one()
        se_id = conn.execute(select(storage_elements.c.se_id)).scalar_one()
        conn.execute(directories.insert(), [
            {"dir_id": d + 1, "parent_id": None, "path": _directory(d), "path_key": f"{d:032x}",
             "owner_id": uid, "group_id": gid, "mode": 0o775, "created": datetime.now(UTC),
             "modified": datetime.now(UTC)} for d in range(DIRS)])
    rows = [(n + 1, n // PER_DIR + 1, e.lfn.rsplit("/", 1)[1], e.size, e.checksum, e.guid, uid, gid, 0o775,
             "AprioriGood", now, now) for n, e in enumerate(entries)]
    marker = "?" if database.dialect == "sqlite" else "%s"
    files_sql = f"INSERT INTO catalog_files VALUES ({', '.join([marker] * 12)})"
    replicas_sql = ("INSERT INTO catalog_replicas (file_id, se_id, status, kind) "
                    f"VALUES ({', '.join([marker] * 4)})")
    start = time.perf_counter()
    for first in range(0, len(rows), CALL):
        with database.begin() as conn:
            cursor = _raw_cursor(conn)
            cursor.executemany(files_sql, rows[first:first + CALL])
            cursor.executemany(replicas_sql, [(r[0], se_id, "AprioriGood", "Master")
                                              for r in rows[first:first + CALL]])
    elapsed = time.perf_counter() - start
    _empty(database)
    return elapsed


# -- reads on a populated catalog ---------------------------------------------------------------------


class Populated:
    """A catalog holding the benchmark's files, the big directory and metadata, per backend."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self.catalog = SQLFileCatalog(database)
        self.entries = _entries()
        _register(self.catalog, self.entries)
        big = [FileEntry(lfn=f"/vo/big/f{i:07d}", size=1, checksum="00000001") for i in range(BIG_DIR)]
        _register(self.catalog, big)
        catalog = self.catalog
        catalog.add_metadata_field("year", "int", for_files=False)
        catalog.add_metadata_field("quality", "string", for_files=False)
        catalog.add_metadata_field("kind", "string", for_files=True)
        # a quarter of the directories: year 2024 (half of them) and quality good (every other)
        catalog.set_metadata({_directory(d): {"year": 2023 + d % 2,
                                              "quality": "good" if d // 2 % 2 else "bad"}
                              for d in range(DIRS)}).raise_for_failures()
        kinds = {e.lfn: {"kind": "raw" if n % 2 else "reco"} for n, e in enumerate(self.entries)}
        for start in range(0, len(self.entries), CALL):
            part = dict(list(kinds.items())[start:start + CALL])
            catalog.set_metadata(part).raise_for_failures()


@pytest.fixture(scope="module", params=selected_backends(), ids=str)
def populated(request: pytest.FixtureRequest, dirac_test_databases: TestDatabases) -> Iterator[Populated]:
    database = dirac_test_databases.database(request.param)
    _empty(database)
    start = time.perf_counter()
    data = Populated(database)
    _settle(database)
    print(f"\n[{database.dialect}] populated {FILES:,} files, metadata included, in "
          f"{time.perf_counter() - start:.1f} s")
    yield data
    _empty(database)


def test_replica_lookup(benchmark: BenchmarkFixture, populated: Populated) -> None:
    """get_replicas of every LFN, in one call."""
    lfns = [e.lfn for e in populated.entries]
    found = benchmark.pedantic(lambda: populated.catalog.get_replicas(lfns), rounds=3, iterations=1)
    assert len(found.ok) == len(lfns)
    assert found.ok[lfns[-1]] == {SE}
    database = populated.database
    with database.begin(read_only=True) as conn:
        ids = [i for (i,) in conn.execute(select(directories.c.dir_id).where(
            directories.c.path.like("/vo/data/2024/run%")))]
        concat = ("CONCAT(d.path, '/', f.name)" if database.dialect == "mysql" else "d.path || '/' || f.name")
        start = time.perf_counter()
        rows = 0
        cursor = _raw_cursor(conn)
        for first in range(0, len(ids), 100):
            part = ids[first:first + 100]
            marks = ", ".join([_marker(conn)] * len(part))
            cursor.execute(f"SELECT {concat}, r.se_id FROM catalog_files f "
                           f"JOIN catalog_directories d ON d.dir_id = f.dir_id "
                           f"LEFT JOIN catalog_replicas r ON r.file_id = f.file_id "
                           f"WHERE f.dir_id IN ({marks})", part)
            rows += len(cursor.fetchall())
        raw = time.perf_counter() - start
    assert rows == len(lfns)
    _record(benchmark, "replica lookup", database.dialect, ours=_best_seconds(benchmark), raw=raw, unit="s",
            higher_is_better=False)


def test_list_directory(benchmark: BenchmarkFixture, populated: Populated) -> None:
    """list_directory of the directory of BIG_DIR files."""
    listing = benchmark.pedantic(lambda: populated.catalog.list_directory(["/vo/big"]), rounds=5,
                                 iterations=1)
    assert len(listing.ok["/vo/big"].files) == BIG_DIR
    database = populated.database
    with database.begin(read_only=True) as conn:
        dir_id = conn.execute(select(directories.c.dir_id)
                              .where(directories.c.path == "/vo/big")).scalar_one()
        start = time.perf_counter()
        cursor = _raw_cursor(conn)
        cursor.execute(f"SELECT name FROM catalog_files WHERE dir_id = {_marker(conn)}", (dir_id,))
        assert len(cursor.fetchall()) == BIG_DIR
        raw = time.perf_counter() - start
    _record(benchmark, "list 1 directory", database.dialect, ours=_best_seconds(benchmark), raw=raw,
            unit="s", higher_is_better=False)


@pytest.mark.parametrize("kind", ["dir+dir", "dir+file"])
def test_metadata_query(benchmark: BenchmarkFixture, populated: Populated, kind: str) -> None:
    """Two conditions selecting a quarter of the files."""
    query: dict[str, Any] = ({"year": 2024, "quality": "good"} if kind == "dir+dir"
                             else {"year": 2024, "kind": "raw"})
    found = benchmark.pedantic(lambda: populated.catalog.find_files(query, "/vo/data"), rounds=5,
                               iterations=1)
    assert len(found) == FILES // 4
    _record(benchmark, f"query {kind}", populated.database.dialect, ours=_best_seconds(benchmark),
            raw=_raw_query_seconds(populated.database, kind), unit="s", higher_is_better=False)


def _raw_query_seconds(database: Database, kind: str) -> float:
    """The same selection hand-written: directories by their values, then their files' names."""
    m = "?" if database.dialect == "sqlite" else "%s"
    concat = "CONCAT(d.path, '/', f.name)" if database.dialect == "mysql" else "d.path || '/' || f.name"
    with database.begin(read_only=True) as conn:
        fields = dict(conn.execute(text("SELECT name, field_id FROM catalog_meta_fields")).all())
        on = "d.dir_id" if kind == "dir+dir" else "f.file_id"
        second = f"JOIN catalog_meta_string q ON q.item_id = {on} AND q.field_id = {{m}} AND q.value = {{m}}"
        sql = (f"SELECT {concat} FROM catalog_files f JOIN catalog_directories d ON d.dir_id = f.dir_id "
               f"JOIN catalog_meta_int y ON y.item_id = d.dir_id AND y.field_id = {m} AND y.value = {m} "
               + second.format(m=m))
        params = (fields["year"], 2024, fields["quality" if kind == "dir+dir" else "kind"],
                  "good" if kind == "dir+dir" else "raw")
        start = time.perf_counter()
        cursor = _raw_cursor(conn)
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        elapsed = time.perf_counter() - start
    assert len(rows) == FILES // 4
    return elapsed

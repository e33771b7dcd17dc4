"""The transformation system's splitting cycle on 100,000 files, beside the raw driver's insert rate.

One cycle of :meth:`TransformationSystem.split`: the transformation's 100,000 Unused files read from
the store, their replicas (1 to 3 of 5 SEs, answered from memory: the catalog's cost is its own
benchmark), grouped by DIRAC's Standard splitter (``GroupSize`` 10, the ``dirac.splitters`` entry
point), and the 10,000 tasks, their inputs and the files' move to Assigned written back in one
transaction. Target on SQLite: at least 100,000 files/s. Beside it, the rate at which the bare
DBAPI cursor merely inserts 100,000 rows of the same table, for scale.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from pytest_benchmark.fixture import BenchmarkFixture
from sqlalchemy import delete, update

from dirac_core.config import load_config
from dirac_core.db import Database
from dirac_core.db.tables.transformations import tfs_files, tfs_task_inputs, tfs_tasks, tfs_transformations
from dirac_core.errors import BulkResult
from dirac_core.model import FakeClock
from dirac_core.model.identity import Identity
from dirac_core.model.transformation import TransformationFileStatus
from dirac_core.transformation import TransformationSettings, TransformationSpec, TransformationSystem
from dirac_core.transformation.file_store import lfn_key

FILES = 100_000
SES = ("SE-A", "SE-B", "SE-C", "SE-D", "SE-E")
AUTHOR = Identity(user="prod", group="prod", vo="demo", properties={"ProductionManagement"})
CONFIG = """
[registry.vos.demo]
name = "demo"
[registry.users.prod]
name = "prod"
[registry.groups.prod]
name = "prod"
vo = "demo"
users = ["prod"]
properties = ["ProductionManagement"]
"""


class Replicas:
    """Answers replica look-ups from a dict (the part of a catalog the cycle uses)."""

    def __init__(self, replicas: dict[str, frozenset[str]]) -> None:
        self.replicas = replicas

    def get_replicas(self, lfns: Sequence[str]) -> BulkResult[str, frozenset[str]]:
        return BulkResult(ok={lfn: self.replicas[lfn] for lfn in lfns})


def _lfns() -> list[str]:
    return [f"/demo/mc/2026/run{i // 1000:05d}/events_{i:07d}.root" for i in range(FILES)]


@pytest.fixture
def split_setup(database: Database) -> tuple[TransformationSystem, int]:
    """A started transformation with 100,000 Unused files, split by Standard in groups of 10."""
    lfns = _lfns()
    catalog = Replicas({lfn: frozenset(SES[(i + k) % 5] for k in range(1 + i % 3))
                        for i, lfn in enumerate(lfns)})
    system = TransformationSystem(database=database, clock=FakeClock(),
                                  config=load_config(CONFIG, format="toml"),
                                  catalog=catalog,  # type: ignore[arg-type]  # replicas are all it needs
                                  settings=TransformationSettings(files_per_cycle=FILES, batch_files=FILES))
    spec = TransformationSpec(name="bench", type="Replication", plugin="Standard", group_size=10)
    tid = system.create(spec, AUTHOR).transformation_id
    system.add_files(tid, lfns)
    system.start(tid)
    return system, tid


def _reset(database: Database, tid: int) -> None:
    """Every file Unused again, no task: the state before the cycle; SQLite's log emptied."""
    with database.begin() as conn:
        conn.execute(delete(tfs_task_inputs).where(tfs_task_inputs.c.transformation_id == tid))
        conn.execute(delete(tfs_tasks).where(tfs_tasks.c.transformation_id == tid))
        conn.execute(update(tfs_files).where(tfs_files.c.transformation_id == tid).values(
            status=TransformationFileStatus.UNUSED, task_id=None, used_se=None))
        conn.execute(update(tfs_transformations).where(tfs_transformations.c.transformation_id == tid)
                     .values(last_task_id=0))
    if database.dialect == "sqlite":
        raw = database.engine.raw_connection()
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        finally:
            raw.close()


def test_split_100k_files(benchmark: BenchmarkFixture, split_setup: tuple[TransformationSystem, int]) -> None:
    system, tid = split_setup
    results = []

    def setup() -> tuple[tuple[object, ...], dict[str, object]]:
        _reset(system.database, tid)
        return (), {}

    def cycle() -> None:
        results.append(system.split(tid)[tid])

    benchmark.pedantic(cycle, setup=setup, rounds=5, iterations=1, warmup_rounds=1)
    assert {(r.tasks, r.files, r.conflict, r.error) for r in results} == {(9_999, 99_990, False, None)}
    stats = benchmark.stats.stats
    ours, median, best = FILES / stats.mean, FILES / stats.median, FILES / stats.min
    raw = raw_insert_rate(system.database)
    benchmark.extra_info.update(files_per_s=round(ours), median_files_per_s=round(median),
                                best_files_per_s=round(best),
                                raw_inserts_per_s=round(raw))
    print(f"\n[{system.database.dialect}] splitting cycle, {FILES:,} files (read, Standard, tasks written "
          f"back): {ours:,.0f} files/s (median {median:,.0f}, best {best:,.0f}); raw driver insert of "
          f"{FILES:,} file rows: "
          f"{raw:,.0f} rows/s")


def raw_insert_rate(db: Database) -> float:
    """Rows/s of inserting 100,000 rows of ``tfs_files`` through the bare DBAPI cursor."""
    lfns = [f"/raw{lfn}" for lfn in _lfns()]
    marker = "?" if db.engine.dialect.paramstyle == "qmark" else "%s"
    columns = ("transformation_id", "lfn", "lfn_key", "status", "error_count", "inserted", "updated")
    sql = (f"INSERT INTO tfs_files ({', '.join(columns)}) "
           f"VALUES ({', '.join([marker] * len(columns))})")
    now = datetime(2026, 1, 1, tzinfo=UTC).replace(tzinfo=None)
    with db.begin() as conn:
        tid = conn.execute(tfs_transformations.select().limit(1)).first().transformation_id  # type: ignore[union-attr]
    values = [(tid, lfn, lfn_key(lfn), "Unused", 0, now, now) for lfn in lfns]
    raw = db.engine.raw_connection()
    try:
        cur = raw.cursor()
        start = time.perf_counter()
        if db.dialect == "sqlite":
            cur.execute("BEGIN")  # our connections run pysqlite without implicit transactions
        cur.executemany(sql, values)
        raw.commit()
        elapsed = time.perf_counter() - start
        cur.execute(f"DELETE FROM tfs_files WHERE lfn LIKE {marker}", ("/raw/%",))
        raw.commit()
    finally:
        raw.close()
    return FILES / elapsed

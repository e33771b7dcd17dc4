"""The job store's fast paths, each against SQLAlchemy's own result, on every backend."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert, select, update

from dirac_core.db import Database
from dirac_core.db.bulk import bulk_insert
from dirac_core.db.tables.wms import counters, job_history, jobs
from dirac_core.model.job import JobStatus
from dirac_core.wms.store import (
    CHUNK,
    allocate_job_ids,
    history_row,
    ids_in,
    set_job_rows,
)

T0 = datetime(2026, 1, 1, 12, 30, 15, 123456, tzinfo=UTC)


def _job(job_id: int) -> dict[str, object]:
    return {"job_id": job_id, "status": JobStatus.WAITING, "minor_status": "", "application_status":
            "Unknown", "owner": "alice", "owner_group": "g", "vo": "v", "job_name": f"j{job_id}",
            "job_type": "User", "job_group": "", "site": "ANY", "user_priority": 1,
            "cpu_time": 100, "submission_time": T0, "last_update_time": T0,
            "reschedule_counter": 0, "verified_flag": True, "accounted_flag": False}


def test_bulk_insert_processes_binds_and_falls_back(database: Database) -> None:
    rows = [history_row(i, JobStatus.RUNNING if i % 2 else None, "m" * 200, None, T0, "src")
            for i in range(1, 101)]
    with database.begin() as conn:
        bulk_insert(conn, job_history, rows)
        # rows with different keys go through SQLAlchemy
        bulk_insert(conn, job_history, [{"job_id": 500, "status_time": T0, "source": "a"},
                                        {"job_id": 501, "status_time": T0, "source": "b",
                                         "status": JobStatus.DONE}])
        back = conn.execute(select(job_history).order_by(job_history.c.id)).mappings().all()
    assert len(back) == 102
    assert back[0]["status"] is JobStatus.RUNNING and back[1]["status"] is None
    assert back[0]["minor_status"] == "m" * 128 and back[0]["status_time"] == T0
    assert back[-1]["status"] is JobStatus.DONE and back[-2]["refused"] is False


def test_ids_in_and_grouped_updates_over_many_chunks(database: Database) -> None:
    n = CHUNK * 2 + 7
    with database.begin() as conn:
        conn.execute(insert(jobs), [_job(i) for i in range(1, n + 1)])
        # grouped: the same values for most jobs; distinct values for a few
        values = [{"job_id": i, "status": JobStatus.RUNNING, "minor_status": "same"}
                  for i in range(1, n - 2)]
        values += [{"job_id": i, "status": JobStatus.DONE, "minor_status": f"own {i}"}
                   for i in range(n - 2, n + 1)]
        set_job_rows(conn, values)
        selected = set()
        for where in ids_in(conn, jobs.c.job_id, list(range(2, n + 1, 2))):
            selected.update(conn.execute(select(jobs.c.job_id).where(where)).scalars())
        rows = dict(conn.execute(select(jobs.c.job_id, jobs.c.minor_status)).all())
    assert selected == set(range(2, n + 1, 2))
    assert rows[1] == "same" and rows[n - 3] == "same" and rows[n] == f"own {n}"


def test_ids_in_writes_integers_into_the_text_and_binds_anything_else(database: Database) -> None:
    class Id(int):  # an int subclass (a numpy-like id): bound, not written out
        pass

    with database.begin() as conn:
        conn.execute(insert(jobs), [_job(i) for i in range(1, 21)])
        for ids, inline in (([3, 5, 7], True), ([Id(3), 5, Id(7)], False), ([-1, 4], True)):
            conditions = list(ids_in(conn, jobs.c.job_id, ids))
            found = {j for where in conditions
                     for j in conn.execute(select(jobs.c.job_id).where(where)).scalars()}
            assert found == {i for i in ids if 0 < i <= 20}
            text = str(select(jobs.c.job_id).where(conditions[0]).compile(dialect=conn.dialect))
            if database.dialect != "postgresql":  # PostgreSQL binds one array
                assert ("IN (" + ",".join(map(str, map(int, ids))) + ")" in text) is inline
        untouched = conn.execute(update(jobs).where(~next(ids_in(conn, jobs.c.job_id, [1, 2])))
                                 .values(site="S")).rowcount
    assert untouched == 18


def test_job_ids_are_reserved_in_consecutive_blocks(database: Database) -> None:
    first = allocate_job_ids(database, 3)
    second = allocate_job_ids(database, 2)
    assert list(first) == [1, 2, 3] and list(second) == [4, 5]
    assert allocate_job_ids(database, 0) == range(0)
    with database.begin(read_only=True) as conn:
        assert conn.execute(select(counters.c.value)).scalar_one() == 6

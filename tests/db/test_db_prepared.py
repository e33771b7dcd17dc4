"""PreparedStatement: SQLAlchemy's binds and errors, without its per-execution work."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy import exc as sa_exc

from dirac_core.db import Database
from dirac_core.db.prepared import PreparedStatement
from dirac_core.db.tables.wms import job_history, jobs
from dirac_core.model.job import JobStatus

T0 = datetime(2026, 1, 1, 12, 30, 15, 123456, tzinfo=UTC)


def _job(job_id: int) -> dict[str, object]:
    return {"job_id": job_id, "status": JobStatus.WAITING, "minor_status": "", "application_status":
            "Unknown", "owner": "alice", "owner_group": "g", "vo": "v", "job_name": f"j{job_id}",
            "job_type": "User", "job_group": "", "site": "ANY", "user_priority": 1,
            "cpu_time": 100, "submission_time": T0, "last_update_time": T0,
            "reschedule_counter": 0, "verified_flag": True, "accounted_flag": False}


def test_rows_apply_bind_processors_in_the_transaction(database: Database) -> None:
    set_matched = (update(jobs).where(jobs.c.job_id == bindparam("b_job"),
                                      jobs.c.status == JobStatus.WAITING)
                   .values(status=JobStatus.MATCHED, last_update_time=bindparam("b_now")))
    with database.begin() as conn:
        conn.execute(insert(jobs), [_job(1), _job(2)])
        prepared = PreparedStatement(set_matched, conn.dialect)
        assert prepared.rows(conn, {"b_job": 1, "b_now": T0}) == []  # no rows returned
        if conn.dialect.update_returning:
            returning = PreparedStatement(set_matched.returning(jobs.c.job_id), conn.dialect)
            assert returning.rows(conn, {"b_job": 2, "b_now": T0}) == [(2,)]
            assert returning.rows(conn, {"b_job": 2, "b_now": T0}) == []  # no longer Waiting
        row = conn.execute(select(jobs).where(jobs.c.job_id == 1)).mappings().one()
    # the enum and the aware timestamp went through the columns' bind processors
    assert row["status"] is JobStatus.MATCHED and row["last_update_time"] == T0


def test_errors_are_sqlalchemys_and_roll_back(database: Database) -> None:
    add = PreparedStatement(insert(jobs).values(_job(1)), database.engine.dialect)
    with database.begin() as conn:
        add.rows(conn, {})

    def add_twice() -> None:
        with database.begin() as conn:
            conn.execute(insert(job_history).values(job_id=7, status_time=T0, source="x"))
            add.rows(conn, {})  # duplicate primary key

    with pytest.raises(sa_exc.IntegrityError):
        add_twice()
    with database.begin(read_only=True) as conn:
        assert conn.execute(select(job_history.c.job_id)).all() == []  # rolled back
        assert conn.execute(select(jobs.c.job_id)).scalars().all() == [1]


def test_a_missing_value_is_refused_before_the_driver(database: Database) -> None:
    stmt = PreparedStatement(update(jobs).where(jobs.c.job_id == bindparam("b_job"))
                             .values(status=JobStatus.MATCHED, last_update_time=bindparam("b_now")),
                             database.engine.dialect)
    with pytest.raises(sa_exc.ArgumentError, match="b_now"), database.begin() as conn:
        stmt.rows(conn, {"b_job": 1})

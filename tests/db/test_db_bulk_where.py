"""bulk_update with ``where``: only rows still holding an expected value change, and the count says
how many did, on every backend and through every path (few rows, constant and varying columns)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from dirac_core.db import Database
from dirac_core.db.bulk import bulk_insert, bulk_update, bulk_update_columns
from dirac_core.db.tables.wms import jobs
from dirac_core.model.job import JobStatus

T0 = datetime(2026, 1, 1, 12, 30, tzinfo=UTC)


def _job(job_id: int, status: JobStatus) -> dict[str, object]:
    return {"job_id": job_id, "status": status, "minor_status": "", "application_status": "Unknown",
            "owner": "alice", "owner_group": "g", "vo": "v", "job_name": f"j{job_id}", "job_type": "User",
            "job_group": "", "site": "ANY", "user_priority": 1, "cpu_time": 100, "submission_time": T0,
            "last_update_time": T0, "reschedule_counter": 0, "verified_flag": True, "accounted_flag": False}


@pytest.mark.parametrize("count", [6, 300], ids=["few", "many"])
@pytest.mark.parametrize("varying", [False, True], ids=["constant", "varying"])
def test_only_rows_in_an_expected_status_change(database: Database, count: int, varying: bool) -> None:
    # every third job is Running: those must be left alone
    statuses = {i: JobStatus.RUNNING if i % 3 == 0 else
                JobStatus.WAITING if i % 3 == 1 else JobStatus.RECEIVED for i in range(1, count + 1)}
    with database.begin() as conn:
        bulk_insert(conn, jobs, [_job(i, s) for i, s in statuses.items()])
        done = bulk_update(conn, jobs.c.job_id,
                           [{"job_id": i, "status": JobStatus.MATCHED,
                             "minor_status": f"pilot {i}" if varying else "same"} for i in statuses],
                           where={"status": [JobStatus.WAITING, JobStatus.RECEIVED]})
    with database.begin(read_only=True) as conn:
        got = {row.job_id: (row.status, row.minor_status)
               for row in conn.execute(select(jobs.c.job_id, jobs.c.status, jobs.c.minor_status))}
    expected = {i: (JobStatus.RUNNING, "") if s is JobStatus.RUNNING else
                (JobStatus.MATCHED, f"pilot {i}" if varying else "same") for i, s in statuses.items()}
    assert got == expected
    assert done == sum(1 for s in statuses.values() if s is not JobStatus.RUNNING)


def test_a_condition_on_an_unknown_column_is_refused(database: Database) -> None:
    with pytest.raises(ValueError, match="no column nowhere"), database.begin() as conn:
        bulk_update(conn, jobs.c.job_id, [{"job_id": 1, "status": JobStatus.DONE}], where={"nowhere": [1]})


def test_without_where_it_counts_the_rows_it_updated(database: Database) -> None:
    with database.begin() as conn:
        bulk_insert(conn, jobs, [_job(i, JobStatus.WAITING) for i in range(1, 4)])
        assert bulk_update(conn, jobs.c.job_id, [{"job_id": i, "status": JobStatus.DONE}
                                                 for i in (1, 2, 99)]) == 2


@pytest.mark.parametrize("count", [6, 300], ids=["few", "many"])
def test_the_columns_form_with_shared_values(database: Database, count: int) -> None:
    with database.begin() as conn:
        bulk_insert(conn, jobs, [_job(i, JobStatus.WAITING if i % 2 else JobStatus.DONE)
                                 for i in range(1, count + 1)])
        ids = list(range(1, count + 1))
        columns = {"job_id": ids, "minor_status": [f"m{i}" for i in ids]}
        done = bulk_update_columns(conn, jobs.c.job_id, columns,
                                   same={"status": JobStatus.MATCHED, "last_update_time": T0},
                                   where={"status": [JobStatus.WAITING]})
    with database.begin(read_only=True) as conn:
        got = {row.job_id: (row.status, row.minor_status)
               for row in conn.execute(select(jobs.c.job_id, jobs.c.status, jobs.c.minor_status))}
    assert done == (count + 1) // 2
    assert got == {i: (JobStatus.MATCHED, f"m{i}") if i % 2 else (JobStatus.DONE, "") for i in ids}

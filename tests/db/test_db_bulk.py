"""bulk_insert and bulk_update write exactly the rows given, below and above the bulk threshold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from dirac_core.db import Database
from dirac_core.db.bulk import bulk_insert, bulk_update
from dirac_core.db.tables.wms import job_history, jobs, task_queues
from dirac_core.model.job import JobStatus

T0 = datetime(2026, 1, 1, 12, 30, 15, 123456, tzinfo=UTC)


def _job(job_id: int) -> dict[str, object]:
    return {"job_id": job_id, "status": JobStatus.WAITING, "minor_status": "", "application_status":
            "Unknown", "owner": "alice", "owner_group": "g", "vo": "v", "job_name": f"j'{job_id}\\",
            "job_type": "User", "job_group": "", "site": "ANY", "user_priority": 1,
            "cpu_time": 100, "submission_time": T0, "last_update_time": T0,
            "reschedule_counter": 0, "verified_flag": True, "accounted_flag": False,
            "heartbeat_time": None, "start_exec_time": None, "end_exec_time": None,
            "reschedule_time": None}


@pytest.mark.parametrize("count", [3, 300], ids=["few", "many"])
def test_bulk_insert_and_update_round_trip(database: Database, count: int) -> None:
    rows = [_job(i) for i in range(1, count + 1)]
    history = [{"job_id": i, "status": JobStatus.RUNNING if i % 2 else None,
                "minor_status": None if i % 3 else "m", "application_status": None,
                "status_time": T0 + timedelta(microseconds=i), "source": "s", "refused": i == 2}
               for i in range(1, count + 1)]
    changes = [{"job_id": i, "status": JobStatus.RUNNING, "minor_status": f"own {i} '",
                "heartbeat_time": T0 + timedelta(seconds=i) if i % 2 else None,
                "last_update_time": T0} for i in range(1, count + 1, 2)]
    with database.begin() as conn:
        bulk_insert(conn, jobs, rows)
        bulk_insert(conn, job_history, history)
        bulk_update(conn, jobs.c.job_id, changes)
    with database.begin(read_only=True) as conn:
        got = {r["job_id"]: dict(r) for r in conn.execute(select(jobs)).mappings()}
        logged = [dict(r) for r in conn.execute(
            select(job_history).order_by(job_history.c.job_id)).mappings()]
    assert sorted(got) == list(range(1, count + 1))
    for i, row in got.items():
        expected = {**_job(i), **(changes[(i - 1) // 2] if i % 2 else {})}
        assert row == expected, i
    assert [{k: v for k, v in r.items() if k != "id"} for r in logged] == history


def test_bulk_update_refuses_a_column_the_table_lacks(database: Database) -> None:
    with database.begin() as conn:
        bulk_insert(conn, jobs, [_job(i) for i in range(1, 101)])
    with pytest.raises(ValueError, match="wms_jobs has no column no_such"), database.begin() as conn:
        bulk_update(conn, jobs.c.job_id, [{"job_id": i, "no_such": 1} for i in range(1, 101)])
    with database.begin(read_only=True) as conn:
        assert conn.execute(select(jobs.c.status).distinct()).scalars().all() == [JobStatus.WAITING]


@pytest.mark.parametrize("count", [3, 300], ids=["few", "many"])
def test_bulk_update_with_one_value_for_every_row(database: Database, count: int) -> None:
    with database.begin() as conn:
        bulk_insert(conn, jobs, [_job(i) for i in range(1, count + 2)])
        bulk_update(conn, jobs.c.job_id, [{"job_id": i, "status": JobStatus.KILLED,
                                           "heartbeat_time": None, "last_update_time": T0}
                                          for i in range(1, count + 1)])
    with database.begin(read_only=True) as conn:
        statuses = dict(conn.execute(select(jobs.c.job_id, jobs.c.status)).all())
    assert statuses == {**dict.fromkeys(range(1, count + 1), JobStatus.KILLED),
                        count + 1: JobStatus.WAITING}


def test_which_temporary_tables_of_updates_fit_in_memory() -> None:
    from dirac_core.db.bulk import _fits_in_memory

    assert _fits_in_memory(jobs, ["job_id", "heartbeat_time", "start_exec_time"], 10_000)
    assert _fits_in_memory(jobs, ["job_id", "status", "minor_status"], 1_000)  # 8 + 130 + 514 bytes a row
    assert not _fits_in_memory(jobs, ["job_id", "status", "minor_status"], 10_000)  # over 4 MiB
    assert not _fits_in_memory(task_queues, ["tq_id", "sites"], 10)  # TEXT: not in the MEMORY engine


def test_bulk_update_of_a_text_column(database: Database) -> None:
    """The temporary table of a MariaDB bulk update stays on disk for a TEXT column; same rows."""
    rows = [{"tq_id": i, "fingerprint": f"f{i}", "owner": "o", "owner_group": "g", "vo": "v",
             "cpu_time": 100, "sites": "", "banned_sites": "", "grid_ces": "", "platforms": "",
             "job_types": "", "tags": "", "priority": 1.0, "created": T0} for i in range(1, 201)]
    with database.begin() as conn:
        bulk_insert(conn, task_queues, rows)
        bulk_update(conn, task_queues.c.tq_id, [{"tq_id": i, "sites": f"S{i}," * i, "priority": i / 2}
                                                for i in range(1, 201, 2)])
    with database.begin(read_only=True) as conn:
        got = {r.tq_id: (r.sites, r.priority) for r in conn.execute(select(task_queues))}
    assert got == {i: (f"S{i}," * i, i / 2) if i % 2 else ("", 1.0) for i in range(1, 201)}


def test_bulk_timestamps_of_any_zone_are_stored_in_utc(database: Database) -> None:
    """Whole seconds, other zones and UTC, above the bulk threshold: each read back as the same
    instant (MariaDB writes UTC ones from their ISO text, the others through the bind processor)."""
    zone = timezone(timedelta(hours=2))
    times = [T0, T0.replace(microsecond=0), T0.astimezone(zone), T0.replace(microsecond=0).astimezone(zone)]
    history = [{"job_id": i, "status": JobStatus.RUNNING, "minor_status": None, "application_status": None,
                "status_time": times[i % 4] + timedelta(seconds=i), "source": "s", "refused": False}
               for i in range(200)]
    with database.begin() as conn:
        bulk_insert(conn, jobs, [_job(i) for i in range(1, 201)])
        bulk_insert(conn, job_history, history)
        bulk_update(conn, jobs.c.job_id, [{"job_id": i, "heartbeat_time": times[i % 4] + timedelta(minutes=i)}
                                          for i in range(1, 201)])
    with database.begin(read_only=True) as conn:
        logged = conn.execute(select(job_history.c.status_time)
                              .order_by(job_history.c.job_id)).scalars().all()
        beats = dict(conn.execute(select(jobs.c.job_id, jobs.c.heartbeat_time)).all())
    assert logged == [row["status_time"] for row in history]
    assert all(t.tzinfo is UTC for t in logged)
    assert beats == {i: times[i % 4] + timedelta(minutes=i) for i in range(1, 201)}


def test_a_naive_timestamp_in_a_bulk_insert_writes_nothing(database: Database) -> None:
    rows = [{"job_id": i, "status": JobStatus.RUNNING, "minor_status": None, "application_status": None,
             "status_time": T0 if i != 150 else T0.replace(tzinfo=None), "source": "s", "refused": False}
            for i in range(200)]
    with pytest.raises(ValueError, match="timezone-aware"), database.begin() as conn:
        bulk_insert(conn, job_history, rows)
    with database.begin(read_only=True) as conn:
        assert conn.execute(select(job_history.c.id)).first() is None


def test_a_bulk_update_is_undone_with_its_transaction(database: Database) -> None:
    """Above the bulk threshold (MariaDB's temporary table), the update stays in the caller's
    transaction: an error after it rolls it back with the rest."""
    with database.begin() as conn:
        bulk_insert(conn, jobs, [_job(i) for i in range(1, 201)])

    def update_then_fail() -> None:
        with database.begin() as conn:
            bulk_update(conn, jobs.c.job_id, [{"job_id": i, "status": JobStatus.RUNNING,
                                               "heartbeat_time": T0 + timedelta(seconds=i)}
                                              for i in range(1, 201)])
            bulk_insert(conn, job_history, [{"job_id": i, "status": JobStatus.RUNNING, "minor_status": None,
                                             "application_status": None, "status_time": T0, "source": "s",
                                             "refused": False} for i in range(1, 201)])
            raise RuntimeError("after the update")

    with pytest.raises(RuntimeError, match="after the update"):
        update_then_fail()
    with database.begin(read_only=True) as conn:
        assert conn.execute(select(jobs.c.status).distinct()).scalars().all() == [JobStatus.WAITING]
        assert conn.execute(select(jobs.c.heartbeat_time).distinct()).scalars().all() == [None]
        assert conn.execute(select(job_history.c.id)).first() is None

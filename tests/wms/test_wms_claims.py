"""Every claim strategy a backend can run writes the same rows and hands out each job once."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import Connection, select, update
from wms_helpers import who

from dirac_core.db import Database
from dirac_core.db.tables.wms import job_history, job_to_pilot, jobs, status_changes, task_queues, tq_jobs
from dirac_core.model import FakeClock
from dirac_core.model.job import JobStatus
from dirac_core.testing.databases import selected_backends
from dirac_core.wms import WorkloadManager
from dirac_core.wms.claims import (
    Claimer,
    ClaimQueue,
    ClaimRequest,
    PickClaimer,
    PostgresClaimer,
    ProcedureClaimer,
    ReturningClaimer,
    claimer_for,
)

JDL = '[Executable = "/bin/echo"; Arguments = "job %n"; Parameters = 3;]'


def _claimers(conn: Connection, database: Database) -> list[Claimer]:
    """Every strategy that can run on this backend (the fallback runs on all of them)."""
    dialect = conn.dialect
    found: list[Claimer] = [PickClaimer(dialect, skip_locked=database.supports_skip_locked)]
    if dialect.delete_returning and dialect.update_returning:
        found.append(ReturningClaimer(dialect))
    if dialect.name == "postgresql":
        found.append(PostgresClaimer(dialect))
    if dialect.name == "mysql":
        found.append(ProcedureClaimer(dialect))
    return found


def test_each_backend_gets_its_fastest_strategy(database: Database) -> None:
    expected = {"sqlite": ReturningClaimer, "mysql": ProcedureClaimer,
                "postgresql": PostgresClaimer}[database.dialect]
    with database.begin() as conn:
        assert type(claimer_for(conn, skip_locked=database.supports_skip_locked)) is expected


def _queue_of(database: Database, job_id: int) -> ClaimQueue:
    with database.begin(read_only=True) as conn:
        tq_id = conn.execute(select(tq_jobs.c.tq_id).where(tq_jobs.c.job_id == job_id)).scalar_one()
        vo, group = conn.execute(select(task_queues.c.vo, task_queues.c.owner_group)
                                 .where(task_queues.c.tq_id == tq_id)).one()
    return ClaimQueue(tq_id, vo, group)


def test_claims_write_matched_history_and_pilot_mapping(
        database: Database, wms: WorkloadManager, fake_clock: FakeClock,
        caplog: pytest.LogCaptureFixture) -> None:
    with database.begin(read_only=True) as conn:
        strategies = _claimers(conn, database)
    for n, claimer in enumerate(strategies):
        ids = [job.job_id for job in wms.submit(JDL, who())]
        queue = _queue_of(database, ids[0])
        tq_id, vo, group = queue
        with database.begin(read_only=True) as conn:
            changes_before = conn.execute(select(status_changes.c.id)).scalars().all()
        with database.begin() as conn:  # the best job is no longer Waiting: dropped, next one
            conn.execute(update(jobs).where(jobs.c.job_id == ids[0]).values(status=JobStatus.KILLED))
        now = fake_clock.now()
        stamps = [f"p{n}-a", ""]
        with (caplog.at_level(logging.WARNING, logger="dirac_core.wms.claims"),
              database.begin() as conn):
            got = [claimer.claim(conn, queue, ClaimRequest("DIRAC.A.ch", "Matcher@test", s, now))
                   for s in stamps]
            empty = claimer.claim(conn, queue, ClaimRequest("DIRAC.A.ch", "m", "x", now))
        name = type(claimer).__name__
        assert empty is None, name
        assert [c.job_id for c in got if c] == ids[1:], name
        assert all(c is not None and f"job {i}" in c.jdl for c, i in zip(got, (1, 2), strict=True)), name
        assert f"job {ids[0]} was in task queue" in caplog.text, name
        with database.begin(read_only=True) as conn:
            left = conn.execute(select(tq_jobs).where(tq_jobs.c.tq_id == tq_id)).all()
            statuses = dict(conn.execute(select(jobs.c.job_id, jobs.c.status)
                                         .where(jobs.c.job_id.in_(ids))).all())
            sites = set(conn.execute(select(jobs.c.site).where(jobs.c.job_id.in_(ids[1:]))).scalars())
            history = conn.execute(select(job_history.c.job_id, job_history.c.source)
                                   .where(job_history.c.status == JobStatus.MATCHED,
                                          job_history.c.job_id.in_(ids))).all()
            pilots = conn.execute(select(job_to_pilot.c.job_id, job_to_pilot.c.pilot_stamp)
                                  .where(job_to_pilot.c.job_id.in_(ids))).all()
            counted = conn.execute(select(status_changes.c.vo, status_changes.c.owner_group,
                                          status_changes.c.old_status, status_changes.c.new_status,
                                          status_changes.c.count)
                                   .where(status_changes.c.id.not_in(changes_before))).all()
        assert left == [], name
        assert statuses == {ids[0]: JobStatus.KILLED, ids[1]: JobStatus.MATCHED,
                            ids[2]: JobStatus.MATCHED}, name
        assert sites == {"DIRAC.A.ch"}, name
        assert sorted(history) == [(ids[1], "Matcher@test"), (ids[2], "Matcher@test")], name
        assert pilots == [(ids[1], f"p{n}-a")], name  # no stamp, no mapping
        # one change per matched job, under the queue's VO and group; none for the dropped job
        assert counted == [(vo, group, "Waiting", "Matched", 1)] * 2, name
        caplog.clear()


#: the wms_claim procedure is MariaDB/MySQL's
on_mariadb = pytest.mark.parametrize("db_url", [b for b in selected_backends() if b == "mysql"],
                                     indirect=True)


def _submitted(database: Database, wms: WorkloadManager) -> tuple[list[int], ClaimQueue, Claimer]:
    """Three waiting jobs of one queue, the queue, and the backend's claim strategy."""
    ids = [job.job_id for job in wms.submit(JDL, who())]
    with database.begin(read_only=True) as conn:
        claimer = claimer_for(conn, skip_locked=True)
    return ids, _queue_of(database, ids[0]), claimer


@on_mariadb
def test_the_procedure_commits_a_claim_made_on_an_autocommit_connection(
        database: Database, wms: WorkloadManager, fake_clock: FakeClock) -> None:
    ids, queue, claimer = _submitted(database, wms)
    assert claimer.autocommit_single
    with database.autocommit() as conn:
        claim = claimer.claim(conn, queue, ClaimRequest("DIRAC.A.ch", "m", "p1", fake_clock.now()))
        assert claim is not None and claim.job_id == ids[0]
        with database.connect() as other:  # committed by the call itself, before the block ends
            assert other.execute(select(jobs.c.status).where(jobs.c.job_id == ids[0])).scalar_one() \
                == JobStatus.MATCHED


@on_mariadb
def test_a_failed_claim_on_an_autocommit_connection_leaves_nothing(
        database: Database, wms: WorkloadManager, fake_clock: FakeClock) -> None:
    """An error halfway through the procedure rolls back what it had done (its own transaction)."""
    ids, queue, claimer = _submitted(database, wms)
    with database.begin() as conn:
        conn.exec_driver_sql("RENAME TABLE wms_status_changes TO wms_status_changes_away")
    try:
        with database.autocommit() as conn:
            with pytest.raises(Exception, match="wms_status_changes"):
                claimer.claim(conn, queue, ClaimRequest("DIRAC.A.ch", "m", "p1", fake_clock.now()))
            assert conn.exec_driver_sql("SELECT @@in_transaction").scalar() == 0  # no locks left held
    finally:
        with database.begin() as conn:
            conn.exec_driver_sql("RENAME TABLE wms_status_changes_away TO wms_status_changes")
    with database.begin(read_only=True) as conn:
        statuses = set(conn.execute(select(jobs.c.status).where(jobs.c.job_id.in_(ids))).scalars())
        queued = conn.execute(select(tq_jobs.c.job_id).where(tq_jobs.c.job_id.in_(ids))).scalars().all()
        matched = conn.execute(select(job_history.c.job_id).where(
            job_history.c.job_id.in_(ids), job_history.c.status == JobStatus.MATCHED)).all()
    assert statuses == {JobStatus.WAITING}
    assert sorted(queued) == ids
    assert matched == []

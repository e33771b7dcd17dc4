"""Claiming a queue's best job, per backend: the statements of the matcher's hot path.

A claim deletes the job's ``wms_tq_jobs`` row (exactly one transaction can),
moves the job from Waiting to Matched, and records the Matched status in the
history, the pilot-to-job mapping and the status changes (the status counts).
How many round trips that costs bounds the match rate on a database server, so each backend gets the fewest it
allows:

- PostgreSQL: one statement, data-modifying CTEs (pick with ``SKIP LOCKED``,
  delete, update, three inserts) returning the job id and its JDL;
- MariaDB/MySQL: the ``wms_claim`` stored procedure (migrations 0003, 0018, 0019), one call;
- SQLite: ``DELETE ... RETURNING``, ``UPDATE ... RETURNING`` the JDL, three inserts;
- other servers, or a MariaDB schema made without the migrations: pick
  (``SKIP LOCKED`` where the server has it) with the JDL, delete, update,
  three inserts.

Every strategy has the same contract (:class:`Claimer`), so the matcher does
not know which one it drives. The status change is counted under the queue's VO
and group (:class:`ClaimQueue`): a task queue holds only jobs of its owner, group
and VO (they are part of its fingerprint), so no strategy reads them back.
"""

from __future__ import annotations

import abc
import logging
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, bindparam, delete, insert, select, text, update
from sqlalchemy.engine import Dialect

from dirac_core.db.prepared import PreparedStatement
from dirac_core.db.tables.wms import job_history, job_jdls, job_to_pilot, jobs, status_changes, tq_jobs
from dirac_core.db.types import UTCDateTime
from dirac_core.model.job import JobStatus

__all__ = ["Claim", "ClaimQueue", "ClaimRequest", "Claimer", "claimer_for"]

log = logging.getLogger(__name__)

_RETRIES = 3


class ClaimRequest(NamedTuple):
    """What a claim needs besides the queue: where the pilot is, when, and the pilot's stamp."""

    site: str
    source: str
    pilot_stamp: str
    now: datetime


class ClaimQueue(NamedTuple):
    """The task queue to claim from, with the VO and group that every job in it has."""

    tq_id: int
    vo: str
    owner_group: str


class Claim(NamedTuple):
    """A claimed job: its id and its JDL."""

    job_id: int
    jdl: str


#: what :meth:`Claimer._claim` returns when another transaction took the picked job first
LOST = "lost"

Outcome = tuple[Claim, bool] | None | str


class Claimer(abc.ABC):
    """Claims jobs inside the caller's transaction, history record and pilot mapping included."""

    #: a claim is one statement that writes everything: a single claim may run on an
    #: autocommit connection (no BEGIN, no COMMIT round trip)
    autocommit_single = False

    def claim(self, conn: Connection, queue: ClaimQueue, request: ClaimRequest) -> Claim | None:
        """The queue's best job, claimed; None when the queue has none left."""
        for _ in range(_RETRIES):
            outcome = self._claim(conn, queue, request)
            if outcome is None:
                return None
            if isinstance(outcome, str):
                continue  # LOST: pick again
            claim, matched = outcome
            if matched:
                return claim
            log.warning("job %s was in task queue %s but not Waiting; dropped from it",
                        claim.job_id, queue.tq_id)
        return None

    @abc.abstractmethod
    def _claim(self, conn: Connection, queue: ClaimQueue, request: ClaimRequest) -> Outcome:
        """Take the queue's best job: (claim, whether it was Waiting), None if none is left,
        or :data:`LOST` if another transaction took it first."""


def _set_matched() -> Any:
    return (update(jobs).where(jobs.c.job_id == bindparam("b_job"),
                               jobs.c.status == JobStatus.WAITING)
            .values(status=JobStatus.MATCHED, minor_status="Assigned",
                    application_status="Unknown", site=bindparam("b_site"),
                    last_update_time=bindparam("b_now")))


class _Records:
    """The Matched history record and the pilot-to-job mapping of a claim, as two inserts."""

    def __init__(self, dialect: Dialect) -> None:
        history = insert(job_history).values(
            job_id=bindparam("b_job"), status=JobStatus.MATCHED, minor_status="Assigned",
            application_status="Unknown", status_time=bindparam("b_now"),
            source=bindparam("b_source"), refused=False)
        mapping = insert(job_to_pilot).values(job_id=bindparam("b_job"),
                                              pilot_stamp=bindparam("b_stamp"),
                                              start_time=bindparam("b_now"))
        counted = insert(status_changes).values(vo=bindparam("b_vo"), owner_group=bindparam("b_group"),
                                                old_status=JobStatus.WAITING.value,
                                                new_status=JobStatus.MATCHED.value, count=1)
        self._history = PreparedStatement(history, dialect)
        self._mapping = PreparedStatement(mapping, dialect)
        self._counted = PreparedStatement(counted, dialect)

    def write(self, conn: Connection, job_id: int, queue: ClaimQueue, request: ClaimRequest) -> None:
        """The records of a claim from ``queue``."""
        values = {"b_job": job_id, "b_now": request.now, "b_source": request.source,
                  "b_stamp": request.pilot_stamp, "b_vo": queue.vo, "b_group": queue.owner_group}
        self._history.rows(conn, values)
        self._counted.rows(conn, values)
        if request.pilot_stamp:
            self._mapping.rows(conn, values)


def _best(*, skip_locked: bool) -> Any:
    best = (select(tq_jobs.c.job_id).where(tq_jobs.c.tq_id == bindparam("b_tq"))
            .order_by(tq_jobs.c.rank, tq_jobs.c.job_id).limit(1))
    return best.with_for_update(skip_locked=True) if skip_locked else best


class ReturningClaimer(Claimer):
    """Two statements with RETURNING: delete the best job's queue row, update the job."""

    def __init__(self, dialect: Dialect) -> None:
        take = (delete(tq_jobs).where(tq_jobs.c.job_id == _best(skip_locked=False).scalar_subquery())
                .returning(tq_jobs.c.job_id))
        # the JDL by the bound id, not correlated: SQLite's RETURNING names columns
        # unqualified, and a correlated ``job_id = job_id`` would match every JDL
        set_matched = _set_matched().returning(
            select(job_jdls.c.jdl).where(job_jdls.c.job_id == bindparam("b_job")).scalar_subquery())
        self._take = PreparedStatement(take, dialect)
        self._set = PreparedStatement(set_matched, dialect)
        self._records = _Records(dialect)

    def _claim(self, conn: Connection, queue: ClaimQueue, request: ClaimRequest) -> Outcome:
        taken = self._take.rows(conn, {"b_tq": queue.tq_id})
        if not taken:
            return None
        job_id = taken[0][0]
        rows = self._set.rows(conn, {"b_job": job_id, "b_site": request.site, "b_now": request.now})
        if rows:
            self._records.write(conn, job_id, queue, request)
        return Claim(job_id, rows[0][0] if rows else ""), bool(rows)


class PickClaimer(Claimer):
    """Three statements: pick the best job with its JDL, delete its queue row, update the job."""

    def __init__(self, dialect: Dialect, *, skip_locked: bool) -> None:
        jdl_of = select(job_jdls.c.jdl).where(job_jdls.c.job_id == tq_jobs.c.job_id)
        pick = (select(tq_jobs.c.job_id, jdl_of.scalar_subquery())
                .where(tq_jobs.c.tq_id == bindparam("b_tq"))
                .order_by(tq_jobs.c.rank, tq_jobs.c.job_id).limit(1))
        self._pick = pick.with_for_update(skip_locked=True) if skip_locked else pick
        self._delete = delete(tq_jobs).where(tq_jobs.c.job_id == bindparam("b_job"))
        self._set = _set_matched()
        self._records = _Records(dialect)

    def _claim(self, conn: Connection, queue: ClaimQueue, request: ClaimRequest) -> Outcome:
        picked = conn.execute(self._pick, {"b_tq": queue.tq_id}).first()
        if picked is None:
            return None
        job_id, jdl = picked
        if conn.execute(self._delete, {"b_job": job_id}).rowcount != 1:
            return LOST  # taken meanwhile (a server without SKIP LOCKED)
        matched = conn.execute(self._set, {"b_job": job_id, "b_site": request.site,
                                           "b_now": request.now}).rowcount == 1
        if matched:
            self._records.write(conn, job_id, queue, request)
        return Claim(job_id, jdl or ""), matched


_PG_CLAIM = text("""
WITH args AS (
    SELECT CAST(:site AS VARCHAR) AS site, CAST(:source AS VARCHAR) AS source,
           CAST(:stamp AS VARCHAR) AS stamp, CAST(:vo AS VARCHAR) AS vo,
           CAST(:group AS VARCHAR) AS owner_group
), picked AS (
    SELECT job_id FROM wms_tq_jobs WHERE tq_id = :tq
    ORDER BY rank, job_id LIMIT 1 FOR UPDATE SKIP LOCKED
), taken AS (
    DELETE FROM wms_tq_jobs AS q USING picked WHERE q.job_id = picked.job_id
    RETURNING q.job_id
), matched AS (
    UPDATE wms_jobs AS j
    SET status = 'Matched', minor_status = 'Assigned', application_status = 'Unknown',
        site = (SELECT site FROM args), last_update_time = :now
    FROM taken WHERE j.job_id = taken.job_id AND j.status = 'Waiting'
    RETURNING j.job_id
), counted AS (
    INSERT INTO wms_status_changes (vo, owner_group, old_status, new_status, count)
    SELECT args.vo, args.owner_group, 'Waiting', 'Matched', 1 FROM matched, args
), logged AS (
    INSERT INTO wms_job_history
        (job_id, status, minor_status, application_status, status_time, source, refused)
    SELECT job_id, 'Matched', 'Assigned', 'Unknown', :now, args.source, false FROM matched, args
), mapped AS (
    INSERT INTO wms_job_to_pilot (job_id, pilot_stamp, start_time)
    SELECT job_id, args.stamp, :now FROM matched, args WHERE args.stamp <> ''
)
SELECT taken.job_id, matched.job_id IS NOT NULL, d.jdl
FROM taken LEFT JOIN matched ON true LEFT JOIN wms_job_jdls AS d ON d.job_id = taken.job_id
""").bindparams(bindparam("now", type_=UTCDateTime()))


class PostgresClaimer(Claimer):
    """One statement per claim: pick, delete, update and both records in data-modifying CTEs."""

    autocommit_single = True

    def __init__(self, dialect: Dialect) -> None:
        self._statement = PreparedStatement(_PG_CLAIM, dialect)

    def _claim(self, conn: Connection, queue: ClaimQueue, request: ClaimRequest) -> Outcome:
        rows = self._statement.rows(conn, {"tq": queue.tq_id, "site": request.site, "now": request.now,
                                           "source": request.source, "stamp": request.pilot_stamp,
                                           "vo": queue.vo, "group": queue.owner_group})
        if not rows:
            return None
        job_id, matched, jdl = rows[0]
        return Claim(job_id, jdl or ""), bool(matched)


_MYSQL_CLAIM = text("CALL wms_claim(:tq, :site, :now, :source, :stamp, :vo, :group)").bindparams(
    bindparam("now", type_=UTCDateTime()))


class ProcedureClaimer(Claimer):
    """One call per claim: the ``wms_claim`` procedure of migration 0019 (MariaDB/MySQL).

    Inside a transaction it writes in that transaction; on an autocommit connection (a
    single claim, from :meth:`~dirac_core.db.Database.autocommit`'s pool of its own) it
    commits the claim itself, so a claim is one round trip.
    """

    autocommit_single = True

    def __init__(self, dialect: Dialect) -> None:
        self._statement = PreparedStatement(_MYSQL_CLAIM, dialect)

    def _claim(self, conn: Connection, queue: ClaimQueue, request: ClaimRequest) -> Outcome:
        rows = self._statement.rows(conn, {"tq": queue.tq_id, "site": request.site, "now": request.now,
                                           "source": request.source, "stamp": request.pilot_stamp,
                                           "vo": queue.vo, "group": queue.owner_group})
        job_id, waiting, jdl = rows[0]
        if job_id is None:
            return None
        return Claim(int(job_id), jdl or ""), bool(waiting)


#: the parameters of ``wms_claim`` as migration 0019 defines it (0003 and 0018 had five)
_PROCEDURE_PARAMETERS = 7


def _procedure_parameters(conn: Connection, name: str) -> int:
    """How many parameters the schema's procedure ``name`` takes; 0 when there is none."""
    query = text("SELECT COUNT(*) FROM information_schema.parameters "
                 "WHERE specific_schema = DATABASE() AND specific_name = :name "
                 "AND routine_type = 'PROCEDURE'")
    return int(conn.execute(query, {"name": name}).scalar() or 0)


def claimer_for(conn: Connection, *, skip_locked: bool) -> Claimer:
    """The claim strategy for the database behind ``conn``.

    On MariaDB/MySQL the procedure is used when the schema has 0019's (migrated,
    rather than made by ``create_all``) and the server has ``SKIP LOCKED``.
    """
    dialect = conn.dialect
    if dialect.name == "postgresql":
        return PostgresClaimer(dialect)
    if (dialect.name == "mysql" and skip_locked
            and _procedure_parameters(conn, "wms_claim") == _PROCEDURE_PARAMETERS):
        return ProcedureClaimer(dialect)
    if dialect.delete_returning and dialect.update_returning:
        return ReturningClaimer(dialect)
    return PickClaimer(dialect, skip_locked=skip_locked)

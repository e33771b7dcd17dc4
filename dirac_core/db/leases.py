"""Task leases: several server replicas sharing one database run each periodic task once.

A replica calls :func:`acquire_lease` before a cycle of a periodic task; the
call returns True for exactly one replica while the lease lasts. The winner
runs the task, calls :func:`record_run`, and keeps the lease by acquiring it
again on its next cycle (a holder's acquire renews). It calls
:func:`release_lease` when it stops, so another replica can take over at once
instead of after ``ttl``. A replica that dies simply lets its lease expire.

The functions receive a :class:`~sqlalchemy.engine.Connection` inside a
transaction and do not commit: the caller's transaction decides (use
``Database.begin()``). ``now`` always comes from the caller's
:class:`~dirac_core.model.clock.Clock`, never from the database server, so
tests drive leases with a fake clock.

Atomicity: :func:`acquire_lease` first tries one conditional ``UPDATE``
(take over if expired, or renew if ours); the row lock makes concurrent
takers re-check the condition, so at most one matches. If no row exists it
inserts with the dialect's "ignore on conflict" form; a concurrent inserter
waits for the first and then inserts nothing. On MariaDB this relies on
``READ COMMITTED`` (set by :class:`~dirac_core.db.database.Database`), which
takes no gap lock on the missing row and so cannot deadlock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
from sqlalchemy import Connection, bindparam, case, insert, select, update
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import BindParameter

from dirac_core.db.tables.core import task_leases
from dirac_core.model.clock import ensure_utc

__all__ = ["Lease", "acquire_lease", "get_lease", "record_run", "release_lease"]

_NAME_LENGTH = 128
_OWNER_LENGTH = 255


@attrs.frozen(kw_only=True)
class Lease:
    """A row of ``core_task_leases`` as read by :func:`get_lease`."""

    name: str
    owner: str
    acquired_at: datetime
    expires_at: datetime
    last_run_at: datetime | None
    run_count: int

    def held_at(self, now: datetime) -> bool:
        """True if the lease is still valid at ``now``."""
        return ensure_utc(now, name="now") < self.expires_at


def _check(name: str, owner: str) -> None:
    # checked here because MariaDB's INSERT IGNORE would silently truncate
    if not 0 < len(name) <= _NAME_LENGTH:
        raise ValueError(f"lease name must have 1 to {_NAME_LENGTH} characters: {name!r}")
    if not 0 < len(owner) <= _OWNER_LENGTH:
        raise ValueError(f"lease owner must have 1 to {_OWNER_LENGTH} characters: {owner!r}")


def _ttl(ttl: timedelta | float) -> timedelta:
    step = ttl if isinstance(ttl, timedelta) else timedelta(seconds=ttl)
    if step <= timedelta(0):
        raise ValueError(f"lease ttl must be positive, got {step}")
    return step


def _insert_ignoring_conflict(dialect: str) -> Insert:
    if dialect == "postgresql":
        # psycopg reports no rowcount for INSERT ... ON CONFLICT DO NOTHING
        # under SQLAlchemy 2.1: ask for the inserted key instead
        return postgresql.insert(task_leases).on_conflict_do_nothing().returning(task_leases.c.name)
    if dialect == "sqlite":
        return sqlite.insert(task_leases).on_conflict_do_nothing().returning(task_leases.c.name)
    if dialect in ("mysql", "mariadb"):
        return mysql.insert(task_leases).prefix_with("IGNORE")
    return insert(task_leases)


# Statements are built once with bound parameters: constructing the
# expression on every call cost more than the database round trip on SQLite.
_c = task_leases.c
_P_NAME: BindParameter[str] = bindparam("p_name")
_P_OWNER: BindParameter[str] = bindparam("p_owner")
_P_NOW: BindParameter[datetime] = bindparam("p_now")
# acquired_at is assigned before owner: MariaDB evaluates SET left to right,
# so the CASE must see the old owner
_TAKE = (
    update(task_leases)
    .where(_c.name == _P_NAME, (_c.owner == _P_OWNER) | (_c.expires_at <= _P_NOW))
    .ordered_values(
        # a renewal keeps acquired_at; re-taking one's own expired lease is a new tenure
        (_c.acquired_at,
         case(((_c.owner == _P_OWNER) & (_c.expires_at > _P_NOW), _c.acquired_at), else_=_P_NOW)),
        (_c.owner, _P_OWNER),
        (_c.expires_at, bindparam("p_expires")),
    )
)
_INSERTS = {d: _insert_ignoring_conflict(d) for d in ("postgresql", "sqlite", "mysql", "mariadb")}
_RELEASE = (
    update(task_leases)
    .where(_c.name == _P_NAME, _c.owner == _P_OWNER, _c.expires_at > _P_NOW)
    .values(expires_at=_P_NOW)
)
_RECORD = (
    update(task_leases)
    .where(_c.name == _P_NAME, _c.owner == _P_OWNER)
    .values(last_run_at=_P_NOW, run_count=_c.run_count + 1)
)
_GET = select(task_leases).where(_c.name == _P_NAME)


def acquire_lease(conn: Connection, name: str, owner: str, now: datetime,
                  ttl: timedelta | float) -> bool:
    """Take the lease ``name`` for ``owner`` until ``now + ttl``; return whether it is ours.

    Succeeds when no one holds the lease, when the holder's lease expired
    (``expires_at <= now``), or when ``owner`` holds it already (renewal:
    ``expires_at`` moves, ``acquired_at`` stays). Returns False while another
    owner's lease is valid. ``ttl`` is a timedelta or seconds and must be
    positive; ``now`` must be timezone-aware. Safe under concurrency: of
    several callers racing in separate transactions, one wins.
    """
    _check(name, owner)
    now = ensure_utc(now, name="now")
    expires = now + _ttl(ttl)
    params = {"p_name": name, "p_owner": owner, "p_now": now, "p_expires": expires}
    if conn.execute(_TAKE, params).rowcount == 1:
        return True
    row = {"name": name, "owner": owner, "acquired_at": now, "expires_at": expires, "run_count": 0}
    dialect = conn.dialect.name
    stmt = _INSERTS.get(dialect)
    if stmt is None:
        stmt = insert(task_leases)
    result = conn.execute(stmt, row)
    if dialect in ("postgresql", "sqlite"):
        return result.first() is not None
    return result.rowcount == 1


def release_lease(conn: Connection, name: str, owner: str, now: datetime) -> bool:
    """End ``owner``'s lease ``name`` at ``now``; return False if ``owner`` did not hold it.

    The row stays (with its run history); it just expires, so any replica may
    acquire it from ``now`` on.
    """
    _check(name, owner)
    params = {"p_name": name, "p_owner": owner, "p_now": ensure_utc(now, name="now")}
    return conn.execute(_RELEASE, params).rowcount == 1


def record_run(conn: Connection, name: str, owner: str, now: datetime) -> bool:
    """Note that ``owner`` ran task ``name`` at ``now``: set ``last_run_at``, count one run.

    Returns False, recording nothing, if ``owner`` is not the lease's owner
    (another replica took it over meanwhile).
    """
    _check(name, owner)
    params = {"p_name": name, "p_owner": owner, "p_now": ensure_utc(now, name="now")}
    return conn.execute(_RECORD, params).rowcount == 1


def get_lease(conn: Connection, name: str) -> Lease | None:
    """Return the lease row ``name``, or None if that task never had a lease."""
    row = conn.execute(_GET, {"p_name": name}).one_or_none()
    if row is None:
        return None
    return Lease(**row._asdict())

"""Job counts per status, maintained as jobs change: the job monitor's status counts.

Counting a VO's jobs per status reads every index entry of the VO: about 150 ms for a million
jobs on a database server. Instead, every transaction that changes job statuses appends what
changed to ``wms_status_changes`` (aggregated: one row per VO, owner group and old -> new
status, with how many jobs), and a periodic fold (:func:`fold`, the ``wms.status_counts``
task) adds those rows into ``wms_status_counts`` and deletes them. :func:`counts` adds the
folded counts and the changes not folded yet, in one statement, so it reads one snapshot.

Writers only append: they never wait on each other for a counter row. The fold first updates
its lock row (so two folds run one after the other), then deletes exactly the change rows it
read, so a change committed meanwhile waits for the next fold instead of being lost.

Every place that writes ``wms_jobs.status`` records its changes here: submission
(:func:`record`), :func:`~dirac_core.wms.store.set_job_rows`, the matcher's claims (each
backend's statement, the MariaDB procedure of migrations 0018 and 0019), and the removal of old jobs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection

from dirac_core.db.chunks import ids_in
from dirac_core.db.tables.wms import jobs, status_changes, status_counts

__all__ = ["Change", "counts", "fold", "rebuild", "record", "transitions"]

#: ``(vo, owner group, old status, new status)``: None as old status for a new job, as new
#: status for a removed one
Change = tuple[str, str, str | None, str | None]

#: the primary key of the fold's lock row (no VO, group or status is empty)
_LOCK = {"vo": "", "owner_group": "", "status": ""}
#: change rows folded per transaction at most
FOLD_LIMIT = 50_000


def _text(status: Any) -> str | None:
    return None if status is None else str(status)


def record(conn: Connection, changes: Iterable[Change]) -> int:
    """Append ``changes`` (aggregated; changes to the same status dropped); how many rows."""
    summed = Counter((vo, group, _text(old), _text(new)) for vo, group, old, new in changes
                     if _text(old) != _text(new))
    rows = [{"vo": vo, "owner_group": group, "old_status": old, "new_status": new, "count": n}
            for (vo, group, old, new), n in summed.items()]
    if rows:
        conn.execute(sa.insert(status_changes), rows)
    return len(rows)


def transitions(before: Mapping[int, Mapping[str, Any]],
                after: Iterable[Mapping[str, Any]]) -> list[Change]:
    """The changes of job rows ``after`` (``job_id`` and ``status``) from ``before``
    (job id -> ``vo``, ``owner_group``, ``status``); jobs missing from ``before`` are skipped."""
    out: list[Change] = []
    for row in after:
        old = before.get(row["job_id"])
        if old is not None:
            out.append((old["vo"], old["owner_group"], _text(old["status"]), _text(row["status"])))
    return out


def _lock(conn: Connection) -> None:
    """Take the fold's lock row (made when missing: a schema built without the migrations)."""
    key = [status_counts.c[name] == value for name, value in _LOCK.items()]
    taken = conn.execute(sa.update(status_counts).where(*key)
                         .values(count=status_counts.c["count"] + 1)).rowcount
    if not taken:
        conn.execute(sa.insert(status_counts).values(**_LOCK, count=1))


def _add(conn: Connection, net: Mapping[tuple[str, str, str], int]) -> None:
    for (vo, group, status), delta in sorted(net.items()):
        if not delta:
            continue
        key = (status_counts.c.vo == vo, status_counts.c.owner_group == group,
               status_counts.c.status == status)
        done = conn.execute(sa.update(status_counts).where(*key)
                            .values(count=status_counts.c["count"] + delta)).rowcount
        if not done:
            conn.execute(sa.insert(status_counts).values(vo=vo, owner_group=group, status=status,
                                                         count=delta))


def fold(conn: Connection, *, limit: int = FOLD_LIMIT) -> int:
    """Add up to ``limit`` change rows into the counts and delete them; how many were folded.

    Run it in a transaction of its own: the lock row it updates is held to the commit.
    """
    _lock(conn)
    rows = conn.execute(sa.select(status_changes).order_by(status_changes.c.id).limit(limit)).all()
    if not rows:
        return 0
    net: Counter[tuple[str, str, str]] = Counter()
    for row in rows:  # row.count would be the tuple's method
        vo, group, old, new, n = (row._mapping[k] for k in ("vo", "owner_group", "old_status",
                                                              "new_status", "count"))
        if old is not None:
            net[(vo, group, old)] -= n
        if new is not None:
            net[(vo, group, new)] += n
    _add(conn, net)
    for where in ids_in(conn, status_changes.c.id, [row._mapping["id"] for row in rows]):
        conn.execute(sa.delete(status_changes).where(where))
    return len(rows)


def rebuild(conn: Connection) -> int:
    """Count the jobs again and drop the pending changes; how many jobs were counted.

    For maintenance (a schema filled by hand, a suspected drift): exact only while nothing
    else changes jobs, since a change committed during the count may be counted twice.
    """
    _lock(conn)
    conn.execute(sa.delete(status_changes))
    conn.execute(sa.delete(status_counts).where(status_counts.c.vo != ""))
    grouped = conn.execute(sa.select(jobs.c.vo, jobs.c.owner_group, jobs.c.status, sa.func.count())
                           .group_by(jobs.c.vo, jobs.c.owner_group, jobs.c.status)).all()
    rows = [{"vo": vo, "owner_group": group, "status": str(status), "count": int(n)}
            for vo, group, status, n in grouped]
    if rows:
        conn.execute(sa.insert(status_counts), rows)
    return sum(r["count"] for r in rows)


def counts(conn: Connection, *, vo: str | None = None, owner_group: str | None = None) -> dict[str, int]:
    """Jobs per status (statuses with none left out), of one VO and group if given: the folded
    counts plus the pending changes, read in one statement."""
    def scope(table: sa.Table) -> list[sa.ColumnElement[bool]]:
        conds = [table.c.vo != ""]
        if vo is not None:
            conds.append(table.c.vo == vo)
        if owner_group is not None:
            conds.append(table.c.owner_group == owner_group)
        return conds

    c, s = status_counts.c, status_changes.c
    parts = sa.union_all(
        sa.select(c.status.label("status"), c["count"].label("n")).where(*scope(status_counts)),
        sa.select(s.new_status, s["count"]).where(s.new_status.is_not(None), *scope(status_changes)),
        sa.select(s.old_status, -s["count"]).where(s.old_status.is_not(None), *scope(status_changes)),
    ).subquery()
    rows = conn.execute(sa.select(parts.c.status, sa.func.sum(parts.c.n)).group_by(parts.c.status))
    return {status: int(n) for status, n in rows if n}

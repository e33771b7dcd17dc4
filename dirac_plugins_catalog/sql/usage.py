"""Directory usage: files and bytes under each directory, per SE and logical (SE id 0).

Kept incrementally, as DIRAC does: every write collects its changes per
(directory, SE) in a :class:`UsageDelta`, which :meth:`UsageDelta.apply`
rolls up to every ancestor through the closure table and adds to
``catalog_usage`` with one upsert per row touched (``INSERT ... ON CONFLICT
DO UPDATE`` / ``ON DUPLICATE KEY UPDATE``): atomic increments, no read
first, rows in key order so concurrent writers lock them in the same order.

Rules (DIRAC's): adding a file adds to the logical row; adding a replica to
its SE's row; removing a replica subtracts from its SE's row only (a file
with no replica left still counts logically); removing a file subtracts
from the logical row and from the rows of the replicas it still had. The
row :data:`HIDDEN` counts the files whose status is not visible.
:func:`recompute` builds the same figures from scratch (repair, tests).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs
from sqlalchemy import Connection, delete, func, select
from sqlalchemy.dialects import mysql, postgresql, sqlite

from dirac_core.db.bulk import bulk_insert
from dirac_core.db.tables.catalog import dir_closure, files, replicas, usage
from dirac_core.model.catalog import VISIBLE_STATUSES
from dirac_plugins_catalog.sql.lookups import chunked, member

__all__ = ["HIDDEN", "LOGICAL", "DirectoryUsage", "SEUsage", "UsageDelta", "read_usage", "recompute"]

#: The SE id of the logical row.
LOGICAL = 0
#: The SE id of the row counting files whose status is not visible (few, usually none): reads
#: that hide them look for them only under directories where this row says there are some, so no
#: index on the status is needed (it would cost every registration an index entry per file).
HIDDEN = -1


@attrs.frozen
class SEUsage:
    """Files and bytes."""

    files: int = 0
    size: int = 0


@attrs.frozen(kw_only=True)
class DirectoryUsage:
    """What a directory's subtree holds: logical files and bytes, and the replicas per SE name."""

    files: int = 0
    size: int = 0
    replicas: Mapping[str, SEUsage] = attrs.field(factory=dict)


class UsageDelta:
    """Changes to usage collected during one write, by (directory id, SE id)."""

    def __init__(self) -> None:
        self._changes: dict[tuple[int, int], list[int]] = {}

    def add(self, dir_id: int, se_id: int, files: int, size: int) -> None:
        """Count ``files`` files of ``size`` bytes in total more (negative: fewer)."""
        change = self._changes.get((dir_id, se_id))
        if change is None:
            self._changes[(dir_id, se_id)] = [files, size]
        else:
            change[0] += files
            change[1] += size

    def __bool__(self) -> bool:
        return any(c[0] or c[1] for c in self._changes.values())

    def apply(self, conn: Connection) -> None:
        """Add the changes to each directory's row and its ancestors' rows."""
        if not self:
            return
        dirs = sorted({dir_id for dir_id, _ in self._changes})
        above: dict[int, list[int]] = {}
        c = dir_closure.c
        for part in chunked(dirs):
            for ancestor, descendant in conn.execute(select(c.ancestor_id, c.descendant_id)
                                                     .where(member(conn, c.descendant_id, part))):
                above.setdefault(descendant, []).append(ancestor)
        totals: dict[tuple[int, int], list[int]] = {}
        for (dir_id, se_id), (n, size) in self._changes.items():
            for ancestor in above.get(dir_id, [dir_id]):
                total = totals.setdefault((ancestor, se_id), [0, 0])
                total[0] += n
                total[1] += size
        rows = [{"dir_id": d, "se_id": s, "files": n, "size": size}
                for (d, s), (n, size) in sorted(totals.items()) if n or size]
        _add_to_rows(conn, rows)
        self._changes.clear()


def _add_to_rows(conn: Connection, rows: list[dict[str, Any]]) -> None:
    """Upsert ``rows``: insert, or add their ``files`` and ``size`` to the existing row."""
    if not rows:
        return
    name = conn.dialect.name
    stmt: Any
    if name == "postgresql":
        stmt = postgresql.insert(usage)
        stmt = stmt.on_conflict_do_update(
            index_elements=[usage.c.dir_id, usage.c.se_id],
            set_={"files": usage.c.files + stmt.excluded.files, "size": usage.c.size + stmt.excluded.size})
    elif name == "mysql":
        stmt = mysql.insert(usage)
        stmt = stmt.on_duplicate_key_update(files=usage.c.files + stmt.inserted.files,
                                            size=usage.c.size + stmt.inserted.size)
    else:
        stmt = sqlite.insert(usage)
        stmt = stmt.on_conflict_do_update(
            index_elements=[usage.c.dir_id, usage.c.se_id],
            set_={"files": usage.c.files + stmt.excluded.files, "size": usage.c.size + stmt.excluded.size})
    conn.execute(stmt, rows)


def read_usage(conn: Connection, dir_ids: Iterable[int]) -> dict[int, dict[int, SEUsage]]:
    """``{dir_id: {se_id: SEUsage}}`` for the directories given (rows with no files left out)."""
    out: dict[int, dict[int, SEUsage]] = {}
    u = usage.c
    for part in chunked(sorted(set(dir_ids))):
        for dir_id, se_id, n, size in conn.execute(select(u.dir_id, u.se_id, u.files, u.size)
                                                   .where(member(conn, u.dir_id, part))):
            if n or size:
                out.setdefault(dir_id, {})[se_id] = SEUsage(int(n), int(size))
    return out


def recompute(conn: Connection, *, store: bool = False) -> dict[tuple[int, int], SEUsage]:
    """Usage computed from the files and replicas themselves, ``{(dir_id, se_id): SEUsage}``.

    With ``store``, ``catalog_usage`` is replaced by it (DIRAC's
    ``rebuildDirectoryUsage``).
    """
    c, f, r = dir_closure.c, files.c, replicas.c
    logical = (select(c.ancestor_id, func.count(), func.coalesce(func.sum(f.size), 0))
               .join_from(files, dir_closure, c.descendant_id == f.dir_id).group_by(c.ancestor_id))
    physical = (select(c.ancestor_id, r.se_id, func.count(), func.coalesce(func.sum(f.size), 0))
                .join_from(replicas, files, f.file_id == r.file_id)
                .join(dir_closure, c.descendant_id == f.dir_id).group_by(c.ancestor_id, r.se_id))
    hidden = logical.where(f.status.not_in([s.value for s in VISIBLE_STATUSES]))
    figures = {(d, LOGICAL): SEUsage(int(n), int(s)) for d, n, s in conn.execute(logical)}
    figures.update(((d, HIDDEN), SEUsage(int(n), int(s))) for d, n, s in conn.execute(hidden))
    figures.update(((d, se), SEUsage(int(n), int(s))) for d, se, n, s in conn.execute(physical))
    if store:
        conn.execute(delete(usage))
        bulk_insert(conn, usage, [{"dir_id": d, "se_id": se, "files": u.files, "size": u.size}
                                  for (d, se), u in sorted(figures.items())])
    return figures

"""A transformation's files: attach them, read them, and change their statuses by the rules.

Functions over a :class:`~sqlalchemy.Connection` inside the caller's transaction, which holds the
transformation's lock (:func:`dirac_core.transformation.store.lock`). Every status change goes
through :func:`~dirac_core.model.transformation.file_transition` (:func:`apply_transitions`),
except the splitting cycle's own compare-and-set from Unused (:func:`assign`, :func:`mark`).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Integer, Row, bindparam, select
from sqlalchemy.engine import Dialect

from dirac_core.db.bulk import bulk_insert, bulk_update, bulk_update_columns
from dirac_core.db.chunks import chunks
from dirac_core.db.prepared import PreparedStatement
from dirac_core.db.tables.transformations import CANDIDATE_FILTER, tfs_files, tfs_task_inputs
from dirac_core.model.transformation import (
    FileAddition,
    TransformationFileStatus,
    file_transition,
)
from dirac_core.transformation.records import TransformationFile

__all__ = ["CANDIDATES", "add_files", "apply_transitions", "assign", "by_lfn", "candidates", "lfn_key",
           "mark", "read_files", "task_files", "to_record"]

_F = TransformationFileStatus
_C = tfs_files.c
#: the statuses a splitting cycle may put into a task (ProbInFC is tried again: DIRAC forces it back)
CANDIDATES = (_F.UNUSED, _F.PROB_IN_FC)
_CHUNK = 1000


def lfn_key(lfn: str) -> str:
    """The unique key of an LFN within a transformation: 32 hex digits of its BLAKE2b hash."""
    return hashlib.blake2b(lfn.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def _chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    return chunks(items, _CHUNK)


def add_files(conn: Connection, transformation_id: int, lfns: Sequence[str],
              now: datetime) -> dict[str, FileAddition]:
    """Attach canonical ``lfns`` (Unused); per LFN ``Added``, or ``Present`` when it was there."""
    keys = {lfn: lfn_key(lfn) for lfn in lfns}
    present: set[str] = set()
    for part in _chunks(list(keys.values())):
        present.update(conn.execute(select(_C.lfn_key).where(_C.transformation_id == transformation_id,
                                                             _C.lfn_key.in_(part))).scalars())
    new = [{"transformation_id": transformation_id, "lfn": lfn, "lfn_key": key, "status": _F.UNUSED,
            "error_count": 0, "inserted": now, "updated": now}
           for lfn, key in keys.items() if key not in present]
    bulk_insert(conn, tfs_files, new)
    return {lfn: FileAddition.PRESENT if key in present else FileAddition.ADDED for lfn, key in keys.items()}


def candidates(conn: Connection, transformation_id: int, limit: int) -> list[tuple[int, str]]:
    """Up to ``limit`` files (id, LFN) a task may take: Unused ones oldest first, then ProbInFC ones.

    One query per status: each reads its index range in file order, where ``status IN (...)``
    would sort every row first. Each repeats :data:`CANDIDATE_FILTER`, so that SQLite and
    PostgreSQL use the partial index of candidate files.
    """
    query = _candidates_query(conn.dialect)
    rows: list[tuple[int, str]] = []
    for status in CANDIDATES:
        if len(rows) >= limit:
            break
        # straight on the cursor: 100,000 rows are read in 0.1 s, SQLAlchemy's rows would double it
        rows.extend(query.rows(conn, {"tid": transformation_id, "status": status, "n": limit - len(rows)}))
    return rows


@functools.lru_cache(maxsize=8)
def _candidates_query(dialect: Dialect) -> PreparedStatement:
    return PreparedStatement(select(_C.file_id, _C.lfn).where(
        _C.transformation_id == bindparam("tid"), CANDIDATE_FILTER, _C.status == bindparam("status"))
        .order_by(_C.file_id).limit(bindparam("n", type_=Integer)), dialect)


def read_files(conn: Connection, transformation_id: int, *, lfns: Sequence[str] | None = None,
               statuses: Collection[TransformationFileStatus] | None = None,
               offset: int = 0, limit: int | None = None) -> list[Row[Any]]:
    """File rows of a transformation, by LFN (canonical) and status, in id order; without
    ``lfns``, ``limit`` rows from ``offset`` (a page)."""
    where = [_C.transformation_id == transformation_id]
    if statuses is not None:
        where.append(_C.status.in_(sorted(statuses)))
    if lfns is None:
        return list(conn.execute(select(tfs_files).where(*where).order_by(_C.file_id)
                                 .offset(offset).limit(limit)))
    rows: list[Row[Any]] = []
    for part in _chunks([lfn_key(lfn) for lfn in lfns]):
        rows.extend(conn.execute(select(tfs_files).where(*where, _C.lfn_key.in_(part))))
    return sorted(rows, key=lambda row: row.file_id)


def task_files(conn: Connection, transformation_id: int, task_ids: Sequence[int]) -> list[Row[Any]]:
    """The files still Assigned to these tasks (found by the ids in the tasks' inputs)."""
    i = tfs_task_inputs.c
    wanted = set(task_ids)
    ids: list[int] = []
    for part in _chunks(sorted(wanted)):
        for (text,) in conn.execute(select(i.file_ids).where(i.transformation_id == transformation_id,
                                                             i.task_id.in_(part))):
            ids.extend(map(int, text.split()))
    rows: list[Row[Any]] = []
    for part in _chunks(ids):
        rows.extend(row for row in conn.execute(select(tfs_files).where(
            _C.file_id.in_(part), _C.transformation_id == transformation_id, _C.status == _F.ASSIGNED))
            if row.task_id in wanted)
    return rows


def apply_transitions(conn: Connection, requests: Sequence[tuple[Row[Any], TransformationFileStatus]], *,
                      force: bool, max_reset: int, now: datetime) -> dict[str, TransformationFileStatus]:
    """Ask each file row for a status, by the rules; write what changes. Per LFN the status it has
    now. A file going back to Unused leaves its task (``task_id`` and ``used_se`` cleared)."""
    changes: list[dict[str, Any]] = []
    out: dict[str, TransformationFileStatus] = {}
    for row, requested in requests:
        change = file_transition(row.status, requested, row.error_count, force=force, max_reset=max_reset)
        if change is None:
            out[row.lfn] = row.status
            continue
        leaves = change.status is _F.UNUSED
        changes.append({"file_id": row.file_id, "status": change.status, "error_count": change.error_count,
                        "task_id": None if leaves else row.task_id,
                        "used_se": None if leaves else row.used_se, "updated": now})
        out[row.lfn] = change.status
    bulk_update(conn, _C.file_id, changes)
    return out


def assign(conn: Connection, assignments: list[tuple[int, int, str]], now: datetime) -> int:
    """Put files into tasks ((file id, task id, the task's SE string) each), those still candidates
    only; how many were. ``assignments`` is sorted in place."""
    # in file order: each page of the table and of its index is then written once, not once per
    # task that has a file on it (a splitter groups files from all over the table)
    assignments.sort()
    return bulk_update_columns(conn, _C.file_id, {"file_id": [a[0] for a in assignments],
                                                  "task_id": [a[1] for a in assignments],
                                                  "used_se": [a[2] for a in assignments]},
                               same={"status": _F.ASSIGNED, "updated": now}, where={"status": CANDIDATES})


def mark(conn: Connection, file_ids: Sequence[int], status: TransformationFileStatus, now: datetime) -> int:
    """Set candidate files to ``status`` (MissingInFC, ProbInFC); how many were still candidates."""
    return bulk_update_columns(conn, _C.file_id, {"file_id": file_ids},
                               same={"status": status, "updated": now}, where={"status": CANDIDATES})


def to_record(row: Row[Any]) -> TransformationFile:
    """A file row as a :class:`TransformationFile`."""
    return TransformationFile(transformation_id=row.transformation_id, lfn=row.lfn, status=row.status,
                              task_id=row.task_id, used_se=row.used_se, error_count=row.error_count,
                              inserted=row.inserted, updated=row.updated)


def by_lfn(rows: Sequence[Row[Any]]) -> Mapping[str, Row[Any]]:
    """Rows keyed by LFN."""
    return {row.lfn: row for row in rows}

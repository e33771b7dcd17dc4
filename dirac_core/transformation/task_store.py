"""A transformation's tasks: write them, reserve them for submission, record their fate.

Functions over a :class:`~sqlalchemy.Connection`, in the caller's transaction. Task ids come from
the transformation row's counter, advanced under its lock (:func:`write_tasks`). Reserving
(:func:`reserve`) takes Created tasks with ``FOR UPDATE SKIP LOCKED`` where the backend has it, so
two task managers at once get different tasks; every later change is a compare-and-set on the
status the task was seen in.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, and_, select, update

from dirac_core.db.bulk import bulk_insert
from dirac_core.db.chunks import chunks
from dirac_core.db.tables.transformations import tfs_files, tfs_task_inputs, tfs_tasks, tfs_transformations
from dirac_core.model.transformation import TaskStatus
from dirac_core.plugins.splitters import TaskGroup
from dirac_core.transformation.records import Task

__all__ = ["change_status", "count_tasks", "input_file_ids", "read_tasks", "reserve", "stuck_reserved",
           "tasks_to_check", "touch", "write_tasks"]

_K = TaskStatus
_C = tfs_tasks.c
_CHUNK = 500


def write_tasks(conn: Connection, transformation_id: int, last_task_id: int, groups: Sequence[TaskGroup], *,
                file_ids: Sequence[Sequence[int]], now: datetime) -> range:
    """Store ``groups`` (``file_ids``: the ids of each group's files, in its order) as Created tasks
    numbered after ``last_task_id`` (read under the transformation's lock) and advance the counter;
    the new task ids."""
    ids = range(last_task_id + 1, last_task_id + 1 + len(groups))
    bulk_insert(conn, tfs_tasks, [
        {"transformation_id": transformation_id, "task_id": task_id, "status": _K.CREATED,
         "external_id": None, "target_ses": ",".join(group.target_ses)[:255], "created": now, "updated": now,
         "checked": now}
        for task_id, group in zip(ids, groups, strict=True)])
    bulk_insert(conn, tfs_task_inputs, [
        {"transformation_id": transformation_id, "task_id": task_id, "file_ids": " ".join(map(str, members))}
        for task_id, members in zip(ids, file_ids, strict=True)])
    conn.execute(update(tfs_transformations)
                 .where(tfs_transformations.c.transformation_id == transformation_id)
                 .values(last_task_id=ids.stop - 1, updated=now))
    return ids


def _keys(transformation_id: int, task_ids: Sequence[int]) -> Iterator[Any]:
    for start in range(0, len(task_ids), _CHUNK):
        yield and_(_C.transformation_id == transformation_id, _C.task_id.in_(task_ids[start:start + _CHUNK]))


def read_tasks(conn: Connection, transformation_id: int, *, task_ids: Sequence[int] | None = None,
               statuses: Collection[TaskStatus] | None = None, inputs: bool = True,
               offset: int = 0, limit: int | None = None) -> list[Task]:
    """Tasks of one transformation (with their LFNs unless ``inputs`` is False), in id order;
    without ``task_ids``, ``limit`` tasks from ``offset`` (a page)."""
    where: list[Any] = [_C.transformation_id == transformation_id]
    if statuses is not None:
        where.append(_C.status.in_(sorted(statuses)))
    rows: list[Row[Any]] = []
    if task_ids is None:
        rows.extend(conn.execute(select(tfs_tasks).where(*where).order_by(_C.task_id)
                                 .offset(offset).limit(limit)))
    for part in list(_keys(transformation_id, list(task_ids))) if task_ids is not None else []:
        rows.extend(conn.execute(select(tfs_tasks).where(*where, part)))
    rows.sort(key=lambda row: row.task_id)
    lfns: dict[int, tuple[str, ...]] = {}
    if inputs and rows:
        members = input_file_ids(conn, transformation_id, [row.task_id for row in rows])
        names = _lfns_of(conn, [file_id for ids in members.values() for file_id in ids])
        lfns = {task_id: tuple(names[file_id] for file_id in ids) for task_id, ids in members.items()}
    return [Task(transformation_id=row.transformation_id, task_id=row.task_id, status=row.status,
                 external_id=row.external_id, target_ses=tuple(s for s in row.target_ses.split(",") if s),
                 lfns=lfns.get(row.task_id, ()), created=row.created, updated=row.updated) for row in rows]


def input_file_ids(conn: Connection, transformation_id: int, task_ids: Sequence[int]) -> dict[int, list[int]]:
    """The ids of each task's files, in the task's order."""
    i = tfs_task_inputs.c
    out: dict[int, list[int]] = {}
    for part in chunks(sorted(set(task_ids)), _CHUNK):
        for task_id, text in conn.execute(select(i.task_id, i.file_ids).where(
                i.transformation_id == transformation_id, i.task_id.in_(part))):
            out[task_id] = [int(file_id) for file_id in text.split()]
    return out


def _lfns_of(conn: Connection, file_ids: Sequence[int]) -> dict[int, str]:
    f = tfs_files.c
    out: dict[int, str] = {}
    for part in chunks(file_ids, _CHUNK):
        out.update((row[0], row[1])
                   for row in conn.execute(select(f.file_id, f.lfn).where(f.file_id.in_(part))))
    return out


def reserve(conn: Connection, transformation_id: int, limit: int, now: datetime, *,
            skip_locked: bool) -> list[int]:
    """Mark up to ``limit`` Created tasks Reserved, lowest ids first; their ids. Tasks another
    transaction is reserving are skipped (``skip_locked``), never taken twice."""
    stmt = (select(_C.task_id).where(_C.transformation_id == transformation_id, _C.status == _K.CREATED)
            .order_by(_C.task_id).limit(limit))
    stmt = stmt.with_for_update(skip_locked=True) if skip_locked else stmt.with_for_update()
    ids = list(conn.execute(stmt).scalars())
    mine = update(tfs_tasks).where(_C.transformation_id == transformation_id, _C.status == _K.CREATED
                                   ).values(status=_K.RESERVED, updated=now)
    if skip_locked or not ids:  # the rows read are locked by this transaction and were Created
        if ids:
            conn.execute(mine.where(_C.task_id.in_(ids)))
        return ids
    # without SKIP LOCKED a row read after waiting for another reserver may be Reserved by it
    # now: keep the tasks this transaction moved, one by one (at most ``limit``)
    return [task_id for task_id in ids if conn.execute(mine.where(_C.task_id == task_id)).rowcount == 1]


def change_status(conn: Connection, transformation_id: int,
                  changes: Mapping[int, tuple[TaskStatus, int | None]], *,
                  expected: Collection[TaskStatus], now: datetime) -> list[int]:
    """Set tasks (id -> (status, external id or None to keep it)) that are still in one of the
    ``expected`` statuses; the ids that changed."""
    done = []
    for task_id, (status, external_id) in changes.items():
        values: dict[str, Any] = {"status": status, "updated": now, "checked": now}
        if external_id is not None:
            values["external_id"] = external_id
        if conn.execute(update(tfs_tasks).where(
                _C.transformation_id == transformation_id, _C.task_id == task_id,
                _C.status.in_(sorted(expected))).values(values)).rowcount:
            done.append(task_id)
    return done


def touch(conn: Connection, transformation_id: int, task_ids: Sequence[int], now: datetime) -> None:
    """Record that these tasks were looked at now."""
    for where in _keys(transformation_id, list(task_ids)):
        conn.execute(update(tfs_tasks).where(where).values(checked=now))


def tasks_to_check(conn: Connection, transformation_id: int, statuses: Collection[TaskStatus],
                   checked_before: datetime, limit: int) -> list[tuple[int, TaskStatus, int | None]]:
    """Up to ``limit`` tasks (id, status, external id) in ``statuses`` not looked at since
    ``checked_before``, those looked at longest ago first."""
    return [(row.task_id, row.status, row.external_id) for row in conn.execute(
        select(_C.task_id, _C.status, _C.external_id, _C.checked)
        .where(_C.transformation_id == transformation_id, _C.status.in_(sorted(statuses)),
               _C.checked <= checked_before)
        .order_by(_C.checked, _C.task_id).limit(limit))]


def stuck_reserved(conn: Connection, before: datetime, *, transformation_ids: Sequence[int] | None = None
                   ) -> dict[int, list[int]]:
    """Tasks Reserved since before ``before``, per transformation."""
    where: list[Any] = [_C.status == _K.RESERVED, _C.updated < before]
    if transformation_ids is not None:
        where.append(_C.transformation_id.in_(list(transformation_ids)))
    out: dict[int, list[int]] = {}
    for transformation_id, task_id in conn.execute(select(_C.transformation_id, _C.task_id).where(*where)
                                                   .order_by(_C.transformation_id, _C.task_id)):
        out.setdefault(transformation_id, []).append(task_id)
    return out


def count_tasks(conn: Connection, transformation_id: int) -> int:
    """How many tasks the transformation has made (its counter)."""
    value = conn.execute(select(tfs_transformations.c.last_task_id).where(
        tfs_transformations.c.transformation_id == transformation_id)).scalar_one_or_none()
    return int(value or 0)

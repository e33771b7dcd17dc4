"""Transformation rows: insert, read, lock, change status; their parameters and queries.

Functions over a :class:`~sqlalchemy.Connection`, inside the caller's transaction. Every writer of
a transformation's files or tasks first takes :func:`lock` on its row (``FOR UPDATE``; SQLite's
``BEGIN IMMEDIATE`` serialises writers anyway), so writers of one transformation never interleave
and never deadlock on its file rows.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select
from sqlalchemy import exc as sa_exc

from dirac_core.db.tables.transformations import (
    tfs_files,
    tfs_parameters,
    tfs_queries,
    tfs_task_inputs,
    tfs_tasks,
    tfs_transformations,
)
from dirac_core.errors import AlreadyExists, NotFound
from dirac_core.model.identity import Identity
from dirac_core.model.transformation import TransformationStatus
from dirac_core.transformation.records import Transformation, TransformationSpec

__all__ = ["INPUT", "OUTPUT", "delete_contents", "insert_transformation", "lock", "read_transformations",
           "set_parameters", "status_counts", "transformation_id_of", "transformation_type"]

#: The kinds of stored query.
INPUT, OUTPUT = "Input", "Output"

_T = tfs_transformations.c


def _not_found(key: int | str) -> NotFound:
    return NotFound(f"transformation {key!r} does not exist", transformation=key)


def insert_transformation(conn: Connection, spec: TransformationSpec, author: Identity,
                          now: datetime) -> int:
    """Store a new transformation (status New); its id. ``AlreadyExists`` when the name is taken."""
    # the caller's transaction is rolled back by the error: no savepoint needed
    try:
        new = conn.execute(insert(tfs_transformations).values(
            name=spec.name, description=spec.description, long_description=spec.long_description,
            type=spec.type, status=TransformationStatus.NEW, agent_type=spec.agent_type,
            plugin=spec.plugin, group_size=spec.group_size, body=spec.body, author=author.user,
            author_group=author.group, vo=author.vo, transformation_group=spec.transformation_group,
            max_tasks=spec.max_tasks, last_task_id=0, created=now, updated=now))
    except sa_exc.IntegrityError:
        raise AlreadyExists(f"a transformation named {spec.name!r} exists already",
                            name=spec.name) from None
    key = new.inserted_primary_key
    assert key is not None
    transformation_id = int(key[0])
    set_parameters(conn, transformation_id, spec.parameters)
    given = ((INPUT, spec.input_query), (OUTPUT, spec.output_query))
    queries = [{"transformation_id": transformation_id, "kind": kind, "query": json.dumps(query)}
               for kind, query in given if query is not None]
    if queries:
        conn.execute(insert(tfs_queries), queries)
    return transformation_id


def set_parameters(conn: Connection, transformation_id: int, parameters: Mapping[str, Any]) -> None:
    """Set extra parameters (JSON values), replacing those of the same names."""
    if not parameters:
        return
    conn.execute(delete(tfs_parameters).where(tfs_parameters.c.transformation_id == transformation_id,
                                              tfs_parameters.c.name.in_(list(parameters))))
    conn.execute(insert(tfs_parameters), [{"transformation_id": transformation_id, "name": name,
                                           "value": json.dumps(value)} for name, value in parameters.items()])


def transformation_id_of(conn: Connection, key: int | str) -> int:
    """The id of the transformation ``key`` (an id, or a name); ``NotFound``."""
    if isinstance(key, int):
        return key
    found = conn.execute(select(_T.transformation_id).where(_T.name == key)).scalar_one_or_none()
    if found is None:
        raise _not_found(key)
    return int(found)


def transformation_type(conn: Connection, transformation_id: int) -> str | None:
    """The type of a transformation; None when it does not exist."""
    return conn.execute(select(_T.type).where(_T.transformation_id == transformation_id)).scalar_one_or_none()


def lock(conn: Connection, transformation_id: int) -> Row[Any]:
    """Lock a transformation's row for this transaction; the row. ``NotFound``."""
    row = conn.execute(select(tfs_transformations).where(_T.transformation_id == transformation_id)
                       .with_for_update()).first()
    if row is None:
        raise _not_found(transformation_id)
    return row


def read_transformations(conn: Connection, *, ids: Sequence[int] | None = None,
                         statuses: Collection[TransformationStatus] | None = None,
                         types: Collection[str] | None = None,
                         with_input_query: bool = False) -> list[Transformation]:
    """Transformations (with parameters and queries) by id, status and type, in id order."""
    stmt = select(tfs_transformations).order_by(_T.transformation_id)
    if ids is not None:
        stmt = stmt.where(_T.transformation_id.in_(list(ids)))
    if statuses is not None:
        stmt = stmt.where(_T.status.in_(sorted(statuses)))
    if types is not None:
        stmt = stmt.where(_T.type.in_(sorted(types)))
    if with_input_query:
        stmt = stmt.where(_T.transformation_id.in_(
            select(tfs_queries.c.transformation_id).where(tfs_queries.c.kind == INPUT)))
    rows = conn.execute(stmt).all()
    if not rows:
        return []
    wanted = [row.transformation_id for row in rows]
    parameters: dict[int, dict[str, Any]] = {i: {} for i in wanted}
    for p in conn.execute(select(tfs_parameters).where(tfs_parameters.c.transformation_id.in_(wanted))
                          .order_by(tfs_parameters.c.name)):
        parameters[p.transformation_id][p.name] = json.loads(p.value)
    queries: dict[tuple[int, str], dict[str, Any]] = {
        (q.transformation_id, q.kind): json.loads(q.query)
        for q in conn.execute(select(tfs_queries).where(tfs_queries.c.transformation_id.in_(wanted)))}
    return [_record(row, parameters[row.transformation_id], queries.get((row.transformation_id, INPUT)),
                    queries.get((row.transformation_id, OUTPUT))) for row in rows]


def _record(row: Row[Any], parameters: dict[str, Any], input_query: dict[str, Any] | None,
            output_query: dict[str, Any] | None) -> Transformation:
    return Transformation(
        transformation_id=row.transformation_id, name=row.name, type=row.type, status=row.status,
        agent_type=row.agent_type, plugin=row.plugin, group_size=row.group_size, body=row.body,
        parameters=parameters, input_query=input_query, output_query=output_query, author=row.author,
        author_group=row.author_group, vo=row.vo, description=row.description,
        long_description=row.long_description, transformation_group=row.transformation_group,
        max_tasks=row.max_tasks, last_task_id=row.last_task_id, created=row.created, updated=row.updated)


def status_counts(conn: Connection, table: Any, transformation_id: int) -> dict[Any, int]:
    """Rows of ``table`` (files or tasks) of one transformation per status."""
    return {status: int(count) for status, count in conn.execute(
        select(table.c.status, func.count()).where(table.c.transformation_id == transformation_id)
        .group_by(table.c.status)).all()}


def delete_contents(conn: Connection, transformation_ids: Iterable[int]) -> None:
    """Forget the files and tasks (with their inputs) of transformations. Task ids are not reused:
    the counter stays where it is, so no later task takes the name of a job that may still exist."""
    ids = list(transformation_ids)
    conn.execute(delete(tfs_files).where(tfs_files.c.transformation_id.in_(ids)))
    conn.execute(delete(tfs_task_inputs).where(tfs_task_inputs.c.transformation_id.in_(ids)))
    conn.execute(delete(tfs_tasks).where(tfs_tasks.c.transformation_id.in_(ids)))

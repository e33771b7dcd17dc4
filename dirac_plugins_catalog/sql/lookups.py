"""Small building blocks of the catalog's SQL: chunked ``IN`` lists, id blocks, names to ids.

Functions take a ``Connection`` inside the caller's transaction and never
commit.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, Select, Table, any_, bindparam, insert, select, update
from sqlalchemy.dialects import postgresql

from dirac_core.db.bulk import bulk_insert
from dirac_core.db.tables.catalog import counters, groups, storage_elements, users

__all__ = ["IN_CHUNK", "allocate_ids", "chunked", "fetch", "group_ids", "member", "se_ids", "se_names",
           "user_ids"]

#: Values per ``IN (...)`` list: well under every backend's parameter limit, and
#: large enough that the statement count stays small.
IN_CHUNK = 1000

T = TypeVar("T")


def chunked(items: Iterable[T], size: int = IN_CHUNK) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size``."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def member(conn: Connection, column: Any, values: Collection[Any]) -> ColumnElement[bool]:
    """``column IN (values)``; on PostgreSQL ``column = ANY(array)``: one parameter, where a list of
    a thousand parameters costs PostgreSQL tens of milliseconds to plan."""
    if conn.dialect.name == "postgresql":
        array = bindparam(None, list(values), type_=postgresql.ARRAY(column.type))
        return column == any_(array)  # type: ignore[no-any-return]
    return column.in_(list(values))  # type: ignore[no-any-return]


def fetch(conn: Connection, stmt: Select[Any]) -> list[tuple[Any, ...]]:
    """All rows of ``stmt`` as the driver returns them (tuples: all three drivers), read straight
    from the DBAPI cursor: no result objects and no result processing, several times faster for a
    million rows. Parameters are bound by SQLAlchemy as usual; select only columns that need no
    result processing (ints, strings)."""
    result = conn.execute(stmt)
    try:
        rows: list[tuple[Any, ...]] = result.cursor.fetchall()  # type: ignore[assignment]
    finally:
        result.close()
    return rows


def allocate_ids(conn: Connection, counter: str, count: int) -> int:
    """Reserve ``count`` consecutive ids of ``counter``; the first of them.

    The counter row stays locked until the transaction ends, so concurrent
    writers take their blocks one after the other. A missing counter row is
    created (a concurrent creation makes the insert fail with an integrity
    error, which the caller's retry resolves).
    """
    if count <= 0:
        return 0
    row = counters.c
    done = conn.execute(update(counters).where(row.name == counter).values(value=row.value + count))
    if done.rowcount == 0:
        conn.execute(insert(counters).values(name=counter, value=1 + count))
        return 1
    value = conn.execute(select(row.value).where(row.name == counter)).scalar_one()
    return int(value) - count


def _name_ids(conn: Connection, table: Table, names: Iterable[str], *, create: bool) -> dict[str, int]:
    """``{name: id}`` from a two-column (id, name) table, adding the missing names if ``create``."""
    id_col, name_col = table.c[0], table.c.name
    wanted = set(names)
    found: dict[str, int] = {}
    for part in chunked(sorted(wanted)):
        found.update((name, key) for key, name in conn.execute(select(id_col, name_col)
                                                                .where(member(conn, name_col, part))))
    missing = sorted(wanted - found.keys())
    if create and missing:
        bulk_insert(conn, table, [{"name": name} for name in missing])
        for part in chunked(missing):
            found.update((name, key) for key, name in conn.execute(select(id_col, name_col)
                                                                    .where(member(conn, name_col, part))))
    return found


def user_ids(conn: Connection, names: Iterable[str]) -> dict[str, int]:
    """Ids of the users named, created on first use."""
    return _name_ids(conn, users, names, create=True)


def group_ids(conn: Connection, names: Iterable[str]) -> dict[str, int]:
    """Ids of the groups named, created on first use."""
    return _name_ids(conn, groups, names, create=True)


def se_ids(conn: Connection, names: Iterable[str], *, create: bool = True) -> dict[str, int]:
    """Ids of the storage elements named, created on first use unless ``create`` is False."""
    return _name_ids(conn, storage_elements, names, create=create)


def se_names(conn: Connection, ids: Sequence[int] | None = None) -> dict[int, str]:
    """``{se_id: name}`` of the ids given (of every SE when None)."""
    se = storage_elements.c
    if ids is None:
        return {int(key): str(name) for key, name in conn.execute(select(se.se_id, se.name))}
    found: dict[int, str] = {}
    for part in chunked(sorted(set(ids))):
        found.update((key, name) for key, name in conn.execute(select(se.se_id, se.name)
                                                                .where(member(conn, se.se_id, part))))
    return found

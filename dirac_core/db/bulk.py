"""Bulk inserts and updates of many rows, each backend's fastest way.

- :func:`bulk_insert`: the INSERT is compiled once per table, dialect and
  columns, and each column's bind processor (enums, UTC timestamps,
  booleans) runs once per distinct value. On PostgreSQL the rows go as one
  array per column through ``unnest`` (one statement, where an
  ``executemany`` is a pipelined statement per row); on MariaDB as multi-row
  INSERTs with each distinct value escaped once; on SQLite one ``executemany``.
- :func:`bulk_update`: rows with their own values, keyed by one column. On
  PostgreSQL one ``UPDATE ... FROM unnest(...)``; on MariaDB the columns
  that vary into a temporary table and one joined UPDATE (an ``executemany``
  of UPDATEs is a round trip per row there); on SQLite an ``executemany``.

Errors are SQLAlchemy's, as for any statement.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Connection, MetaData, Table, bindparam, insert, update
from sqlalchemy.engine import Dialect

from dirac_core.db.prepared import run_on_cursor

__all__ = ["bulk_insert", "bulk_update"]

#: From this many rows on, a server gets the array or temporary-table form.
_SET_MIN = 64
#: Rows per statement in the array form.
_SET_CHUNK = 10_000


def bulk_insert(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert ``rows`` (dicts with the same keys) in as few statements as the backend allows.

    Rows whose keys differ are inserted run by run (SQLAlchemy's executemany
    would drop the keys the first row lacks); a statement that would need
    column defaults computed in Python goes through SQLAlchemy.
    """
    if not rows:
        return
    names = tuple(rows[0])
    if any(tuple(row) != names for row in rows):
        start = 0
        for end in range(1, len(rows) + 1):
            if end == len(rows) or tuple(rows[end]) != tuple(rows[start]):
                bulk_insert(conn, table, rows[start:end])
                start = end
        return
    compiled = _compiled_insert(conn.dialect, table, names)
    if compiled is None:
        conn.execute(insert(table), list(rows))
        return
    try:
        columns = _bound_columns(conn.dialect, table, names, rows)
    except KeyError:
        conn.execute(insert(table), list(rows))
        return
    if conn.dialect.name == "mysql" and len(rows) >= _SET_MIN:
        _mysql_insert(conn, table, names, columns)
        return
    if conn.dialect.name == "postgresql" and len(rows) >= _SET_MIN:
        # identifiers: the table's own columns (checked above), quoted by the dialect
        sql = (f"INSERT INTO {_quoted(conn.dialect, table)} ({_names(conn.dialect, names)}) "  # noqa: S608
               f"SELECT * FROM {_unnest(conn.dialect, table, names)}")
        _run_in_chunks(conn, sql, [columns[name] for name in names])
        return
    sql, order = compiled
    if order is not None:
        params: list[Any] = list(zip(*(columns[name] for name in order), strict=True))
    else:
        params = [dict(zip(names, values, strict=True))
                  for values in zip(*(columns[name] for name in names), strict=True)]
    conn.exec_driver_sql(sql, params)


def bulk_update(conn: Connection, key: Column[Any], rows: Sequence[Mapping[str, Any]]) -> None:
    """Update the rows of ``key``'s table whose ``key`` is each row's; every dict has the key
    column's name and the same other keys (the columns to set).

    Raises ``ValueError`` naming a key that is not a column, before anything is written.
    """
    if not rows:
        return
    table = key.table
    assert isinstance(table, Table)
    names = tuple(rows[0])
    unknown = [name for name in names if name not in table.c]
    if unknown:
        raise ValueError(f"{table.name} has no column {', '.join(unknown)}")
    sets = [name for name in names if name != key.name]
    dialect = conn.dialect
    if dialect.name not in ("postgresql", "mysql") or len(rows) < _SET_MIN:
        _update_many(conn, key, tuple(sets), rows)
        return
    # a column with one value in every row is set from one bound parameter
    first = rows[0]
    constant = {n: first[n] for n in sets if all(row[n] == first[n] for row in rows)}
    varying = [n for n in sets if n not in constant]
    if not varying:
        for part in range(0, len(rows), _SET_CHUNK):
            ids = [row[key.name] for row in rows[part:part + _SET_CHUNK]]
            conn.execute(update(table).where(key.in_(ids)).values(constant))
    elif dialect.name == "postgresql":
        _update_through_arrays(conn, key, constant, varying, rows)
    else:
        _update_through_temporary_table(conn, key, constant, varying, rows)


def _update_many(conn: Connection, key: Column[Any], sets: tuple[str, ...],
                 rows: Sequence[Mapping[str, Any]]) -> None:
    """One DBAPI ``executemany`` of ``UPDATE ... WHERE key = ?``, binds processed per column."""
    table = key.table
    assert isinstance(table, Table)
    sql, order = _compiled_update(conn.dialect, key, sets)
    names = (key.name, *sets)
    columns = _bound_columns(conn.dialect, table, names, rows)
    by_bind = {f"b_{n}": columns[n] for n in names}
    if order is not None:
        params: list[Any] = list(zip(*(by_bind[b] for b in order), strict=True))
    else:
        params = [dict(zip(by_bind, values, strict=True))
                  for values in zip(*by_bind.values(), strict=True)]
    conn.exec_driver_sql(sql, params)


@functools.lru_cache(maxsize=64)
def _compiled_update(dialect: Dialect, key: Column[Any], sets: tuple[str, ...]
                     ) -> tuple[str, tuple[str, ...] | None]:
    """``UPDATE <table> SET <sets> WHERE <key> = ...``, its text and positional bind order."""
    stmt = (update(key.table).where(key == bindparam(f"b_{key.name}"))
            .values({n: bindparam(f"b_{n}") for n in sets}))
    compiled = stmt.compile(dialect=dialect)
    order = tuple(compiled.positiontup) if compiled.positiontup is not None else None
    return compiled.string, order


def _update_through_arrays(conn: Connection, key: Column[Any], constant: Mapping[str, Any],
                           varying: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> None:
    """PostgreSQL: one ``UPDATE ... FROM unnest(<one array per varying column>)``."""
    table = key.table
    assert isinstance(table, Table)
    dialect = conn.dialect
    ordered = (key.name, *varying)
    columns = _bound_columns(dialect, table, ordered, rows)
    fixed = _bound_columns(dialect, table, tuple(constant), [constant])
    assignments = ", ".join([*(f"{_q(dialect, n)} = v.{_q(dialect, n)}" for n in varying),
                             *(f"{_q(dialect, n)} = %b" for n in constant)])
    sql = (f"UPDATE {_quoted(dialect, table)} AS t SET {assignments} "  # noqa: S608
           f"FROM {_unnest(dialect, table, ordered)} AS v({_names(dialect, ordered)}) "
           f"WHERE t.{_q(dialect, key.name)} = v.{_q(dialect, key.name)}")
    # the constants' placeholders come first in the text (SET), then the arrays
    for start in range(0, len(rows), _SET_CHUNK):
        conn.exec_driver_sql(sql, (*(fixed[n][0] for n in constant),
                                   *(columns[n][start:start + _SET_CHUNK] for n in ordered)))


def _update_through_temporary_table(conn: Connection, key: Column[Any],
                                    constant: Mapping[str, Any], varying: Sequence[str],
                                    rows: Sequence[Mapping[str, Any]]) -> None:
    """MariaDB: the varying columns into a temporary table, one joined UPDATE."""
    table = key.table
    assert isinstance(table, Table)
    temp = Table(f"tmp_{table.name}_updates"[:60], MetaData(),
                 Column(key.name, key.type, primary_key=True),
                 *(Column(n, table.c[n].type) for n in varying),
                 prefixes=["TEMPORARY"])
    temp.create(conn)
    try:
        names = (key.name, *varying)
        _mysql_insert(conn, temp, names, _bound_columns(conn.dialect, temp, names, rows))
        conn.execute(update(table).where(key == temp.c[key.name])
                     .values({**{n: temp.c[n] for n in varying}, **constant}))
    finally:
        temp.drop(conn)


#: Bytes of VALUES per INSERT sent to MariaDB (its max_allowed_packet is 16 MiB by default).
_PACKET = 1 << 20


def _mysql_insert(conn: Connection, table: Table, names: Sequence[str],
                  columns: Mapping[str, list[Any]]) -> None:
    """Multi-row INSERTs with each distinct value escaped once by the driver.

    What mysqlclient's ``executemany`` builds, without escaping every value of
    every row: bulk rows repeat most of their values (a status, a source, a
    timestamp).
    """
    escape = conn.connection.dbapi_connection.literal  # type: ignore[union-attr]
    encoded = []
    for name in names:
        cache: dict[Any, bytes] = {}
        out = []
        for value in columns[name]:
            try:
                text = cache[value]
            except KeyError:
                text = cache[value] = _literal(value, escape)
            except TypeError:  # unhashable
                text = _literal(value, escape)
            out.append(text)
        encoded.append(out)
    head = (f"INSERT INTO {_quoted(conn.dialect, table)} "  # noqa: S608 (the table's own columns)
            f"({_names(conn.dialect, names)}) VALUES ").encode()
    batch: list[bytes] = []
    size = 0
    for values in zip(*encoded, strict=True):
        row = b"(" + b",".join(values) + b")"
        batch.append(row)
        size += len(row) + 1
        if size >= _PACKET:
            run_on_cursor(conn, head + b",".join(batch))
            batch, size = [], 0
    if batch:
        run_on_cursor(conn, head + b",".join(batch))


def _literal(value: Any, escape: Callable[[Any], bytes]) -> bytes:
    """A value as MariaDB SQL text: numbers and timestamps formatted here (the bulk of
    the rows, and distinct per row), strings and anything else escaped by the driver."""
    kind = type(value)
    if kind is datetime:
        return f"'{value.isoformat(' ')}'".encode() if value.tzinfo is None else escape(value)
    if kind is int:
        return str(value).encode()
    if kind is bool:
        return b"1" if value else b"0"
    if value is None:
        return b"NULL"
    return escape(value)


def _run_in_chunks(conn: Connection, sql: str, arrays: list[list[Any]]) -> None:
    for start in range(0, len(arrays[0]), _SET_CHUNK):
        conn.exec_driver_sql(sql, tuple(a[start:start + _SET_CHUNK] for a in arrays))


def _bound_columns(dialect: Dialect, table: Table, names: Sequence[str],
                   rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    """Column name -> the rows' values through the column's bind processor."""
    columns = {name: [row[name] for row in rows] for name in names}
    for name in names:
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            columns[name] = _processed(columns[name], process)
    return columns


def _q(dialect: Dialect, name: str) -> str:
    return dialect.identifier_preparer.quote(name)


def _quoted(dialect: Dialect, table: Table) -> str:
    return dialect.identifier_preparer.format_table(table)


def _names(dialect: Dialect, names: Sequence[str]) -> str:
    return ", ".join(_q(dialect, n) for n in names)


def _unnest(dialect: Dialect, table: Table, names: Sequence[str]) -> str:
    """``unnest(CAST(%b AS TYPE[]), ...)``: one array per column, sent in binary (PostgreSQL)."""
    casts = ", ".join(f"CAST(%b AS {table.c[n].type.compile(dialect=dialect)}[])" for n in names)
    return f"unnest({casts})"


@functools.lru_cache(maxsize=64)
def _compiled_insert(dialect: Dialect, table: Table, names: tuple[str, ...]
                     ) -> tuple[str, tuple[str, ...] | None] | None:
    """The INSERT text of ``names`` and its positional parameter order (None: named).

    None when the statement binds more than ``names`` (column defaults) or returns rows.
    """
    if any(name not in table.c for name in names):
        return None
    compiled = insert(table).compile(dialect=dialect, column_keys=list(names), for_executemany=True)
    if set(compiled.binds) != set(names) or compiled.effective_returning:
        return None
    order = tuple(compiled.positiontup) if compiled.positiontup is not None else None
    return compiled.string, order


def _processed(values: list[Any], process: Callable[[Any], Any]) -> list[Any]:
    """``process`` of each value, once per distinct hashable value."""
    done: dict[Any, Any] = {}
    out = []
    for value in values:
        try:
            bound = done[value]
        except KeyError:
            bound = done[value] = process(value)
        except TypeError:  # unhashable: no reuse
            bound = process(value)
        out.append(bound)
    return out

"""Column-oriented bulk inserts: the catalog's hot path for registering millions of files.

:func:`dirac_core.db.bulk.bulk_insert` takes one dict per row; at a million
files that is a million dicts built, read back column by column and left to
the garbage collector, which costs more than SQLite's own work.
:func:`insert_columns` takes the varying values as one list per column and
the values common to every row (owner, mode, status, timestamps) once, and
sends them the way ``bulk_insert`` does on each backend:

- SQLite: one ``executemany`` of row tuples;
- PostgreSQL: ``INSERT ... SELECT`` from ``unnest`` of one array per varying
  column (the common values bound once), 10,000 rows per statement;
- MariaDB: multi-row ``INSERT ... VALUES`` of about 1 MiB each, every value
  escaped by the driver (a common value once).

Values go through the columns' bind processors (enums, UTC timestamps)
exactly as SQLAlchemy would bind them. Errors are SQLAlchemy's. (A candidate
for ``dirac_core.db.bulk``.)
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Table, insert
from sqlalchemy.engine import Dialect

from dirac_core.db.prepared import run_on_cursor

__all__ = ["insert_columns"]

#: Rows per PostgreSQL statement, bytes of VALUES per MariaDB statement.
_PG_CHUNK = 10_000
_MYSQL_PACKET = 1 << 20


def insert_columns(conn: Connection, table: Table, columns: Mapping[str, Sequence[Any]],
                   constants: Mapping[str, Any] | None = None) -> None:
    """Insert one row per position of the equally long ``columns`` lists, each row also
    holding every value of ``constants``. Nothing happens for empty lists.

    Raises ``ValueError`` for lists of different lengths or an unknown column.
    """
    fixed = dict(constants or {})
    names = [*columns, *fixed]
    unknown = [n for n in names if n not in table.c]
    if unknown:
        raise ValueError(f"{table.name} has no column {', '.join(unknown)}")
    lengths = {len(values) for values in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"columns of different lengths for {table.name}: {sorted(lengths)}")
    count = lengths.pop() if lengths else 0
    if count == 0:
        return
    dialect = conn.dialect
    varying = {n: _processed(values, _processor(dialect, table, n)) for n, values in columns.items()}
    bound = {n: _processor(dialect, table, n)(v) for n, v in fixed.items()}
    if dialect.name == "postgresql":
        _postgresql(conn, table, varying, bound, count)
    elif dialect.name == "mysql":
        _mysql(conn, table, varying, bound)
    else:
        sql, order = _compiled(dialect, table, tuple(names))
        sources = [varying[n] if n in varying else itertools.repeat(bound[n], count) for n in order]
        conn.exec_driver_sql(sql, list(zip(*sources)))  # noqa: B905 (repeat() is endless)


def _identity(value: Any) -> Any:
    return value


def _processor(dialect: Dialect, table: Table, name: str) -> Callable[[Any], Any]:
    process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
    return process if process is not None else _identity


def _processed(values: Sequence[Any], process: Callable[[Any], Any]) -> Sequence[Any]:
    """``process`` of each value, once per distinct one."""
    if process is _identity:
        return values
    done: dict[Any, Any] = {}
    out = []
    for value in values:
        try:
            bound = done[value]
        except KeyError:
            bound = done[value] = process(value)
        out.append(bound)
    return out


@functools.lru_cache(maxsize=32)
def _compiled(dialect: Dialect, table: Table, names: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """The INSERT of ``names`` and its positional parameter order (SQLite's qmark style)."""
    compiled = insert(table).compile(dialect=dialect, column_keys=list(names), for_executemany=True)
    order = compiled.positiontup
    if order is None or set(order) != set(names):
        raise ValueError(f"cannot insert {names} into {table.name} positionally")
    return compiled.string, tuple(order)


def _quote(dialect: Dialect, name: str) -> str:
    return dialect.identifier_preparer.quote(name)


def _postgresql(conn: Connection, table: Table, varying: Mapping[str, Sequence[Any]],
                bound: Mapping[str, Any], count: int) -> None:
    dialect = conn.dialect
    target = dialect.identifier_preparer.format_table(table)
    names = [*varying, *bound]
    arrays = ", ".join(f"CAST(%b AS {table.c[n].type.compile(dialect=dialect)}[])" for n in varying)
    fixed = ", ".join(f"CAST(%b AS {table.c[n].type.compile(dialect=dialect)})" for n in bound)
    aliases = ", ".join(f"v.{_quote(dialect, n)}" for n in varying)
    row = ", ".join(_quote(dialect, n) for n in varying)
    select_list = ", ".join(x for x in (aliases, fixed) if x)
    # identifiers: the table's own columns, quoted by the dialect; values: bound parameters
    sql = (f"INSERT INTO {target} ({', '.join(_quote(dialect, n) for n in names)}) "  # noqa: S608
           f"SELECT {select_list} FROM unnest({arrays}) AS v({row})")
    constants = tuple(bound.values())
    # The arrays are parameters of one statement run again and again: the generic plan is right
    # for it. Planned for each run (a caller's plan_cache_mode = force_custom_plan), PostgreSQL
    # folds 10,000-element constants every time: a third of the insert's time.
    previous = conn.exec_driver_sql("SELECT current_setting('plan_cache_mode')").scalar_one()
    conn.exec_driver_sql("SELECT set_config('plan_cache_mode', 'auto', true)")
    for start in range(0, count, _PG_CHUNK):
        # the SELECT list (constants) comes before FROM unnest (arrays) in the text
        conn.exec_driver_sql(sql, (*constants, *(list(values[start:start + _PG_CHUNK])
                                                 for values in varying.values())))
    # (on an error the transaction is rolled back, and the setting with it)
    conn.exec_driver_sql("SELECT set_config('plan_cache_mode', %s, true)", (previous,))


def _mysql(conn: Connection, table: Table, varying: Mapping[str, Sequence[Any]], bound: Mapping[str, Any]
           ) -> None:
    dbapi = conn.connection.dbapi_connection
    escape = dbapi.literal  # type: ignore[union-attr]
    quote = dbapi.string_literal  # type: ignore[union-attr]
    encoding = dbapi.encoding  # type: ignore[union-attr]
    dialect = conn.dialect
    names = [*varying, *bound]
    tail = b"".join(b"," + _literal(v, escape) for v in bound.values())
    head = (f"INSERT INTO {dialect.identifier_preparer.format_table(table)} "  # noqa: S608
            f"({', '.join(_quote(dialect, n) for n in names)}) VALUES ").encode()
    encoded = [[quote(v.encode(encoding)) if type(v) is str else _literal(v, escape) for v in values]
               for values in varying.values()]
    batch: list[bytes] = []
    size = 0
    for values in zip(*encoded, strict=True):
        row = b"(" + b",".join(values) + tail + b")"
        batch.append(row)
        size += len(row) + 1
        if size >= _MYSQL_PACKET:
            run_on_cursor(conn, head + b",".join(batch))
            batch, size = [], 0
    if batch:
        run_on_cursor(conn, head + b",".join(batch))


def _literal(value: Any, escape: Callable[[Any], bytes]) -> bytes:
    """A value as MariaDB SQL text: ints and naive timestamps formatted here, the rest escaped
    by the driver."""
    kind = type(value)
    if kind is int:
        return str(value).encode()
    if value is None:
        return b"NULL"
    if kind is bool:
        return b"1" if value else b"0"
    if kind is datetime and value.tzinfo is None:
        return f"'{value.isoformat(' ')}'".encode()
    return escape(value)

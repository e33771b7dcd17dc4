"""Statements compiled once and run straight on the DBAPI cursor, for hot paths.

SQLAlchemy's work per execution (execution context, result object, events)
costs more than a short statement itself on SQLite, and a good part of a
claim's client time on a server. :class:`PreparedStatement` compiles once
per dialect, applies the bind processors SQLAlchemy would (enums, UTC
timestamps, booleans) and hands the text to the connection's DBAPI cursor,
inside the connection's current transaction. Errors come out as
SQLAlchemy's (``sqlalchemy.exc.DBAPIError`` subclasses); a lost server
connection invalidates the connection, as SQLAlchemy does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect

__all__ = ["PreparedStatement", "run_on_cursor"]


def run_on_cursor(conn: Connection, sql: str | bytes, params: Any = None) -> list[tuple[Any, ...]]:
    """Run ``sql`` on a DBAPI cursor of ``conn``, in its transaction; the rows it returns.

    ``params`` None passes no parameters at all (the text is not %-formatted).
    Errors are wrapped as SQLAlchemy's; a lost connection is invalidated.
    """
    dbapi_conn = conn.connection.dbapi_connection
    dialect = conn.dialect
    cursor = conn.connection.cursor()
    try:
        if params is None:
            cursor.execute(sql)
        else:
            cursor.execute(sql, params)
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []
    except dialect.loaded_dbapi.Error as exc:
        if dialect.is_disconnect(exc, dbapi_conn, cursor):
            conn.invalidate(exc)
        text = sql.decode(errors="replace") if isinstance(sql, bytes) else sql
        raise sa_exc.DBAPIError.instance(text[:2000], params, exc, dialect.loaded_dbapi.Error,
                                         dialect=dialect) from exc
    finally:
        cursor.close()


class PreparedStatement:
    """A statement compiled once for a dialect; :meth:`rows` runs it on the DBAPI cursor."""

    def __init__(self, statement: Any, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql: str = compiled.string
        self._compiled = compiled
        self._order = compiled.positiontup
        processors = {name: bind.type.dialect_impl(dialect).bind_processor(dialect)
                      for name, bind in compiled.binds.items()}
        self._processors = {name: p for name, p in processors.items() if p is not None}
        # the values compiled in (literals of the statement), processed once; the binds that
        # have none must be given to every call
        base = compiled.construct_params(_check=False)
        self._required = frozenset(name for name, bind in compiled.binds.items()
                                   if bind.required and name in base)
        self._constants = {name: self._process(name, value) for name, value in base.items()}

    def _process(self, name: str, value: Any) -> Any:
        process = self._processors.get(name)
        return value if process is None or value is None else process(value)

    def parameters(self, values: Mapping[str, Any]) -> Any:
        """The DBAPI parameters for the bind values ``values`` (others keep their compiled values).

        Raises ``sqlalchemy.exc.ArgumentError`` when a bind without a value is not given."""
        if missing := self._required.difference(values):
            raise sa_exc.ArgumentError(f"a value is required for bind parameters {sorted(missing)}")
        params = dict(self._constants)
        for name, value in values.items():
            if name in params:
                params[name] = self._process(name, value)
        if self._order is not None:
            return tuple(params[n] for n in self._order)
        return params

    def rows(self, conn: Connection, values: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Run with ``values`` in ``conn``'s transaction; the rows it returns (maybe none)."""
        return run_on_cursor(conn, self.sql, self.parameters(values))

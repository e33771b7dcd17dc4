"""Comparing the live schema with the metadata, as the migrations' tests and checks do.

Alembic's own type comparison misses one difference that matters here: a
MariaDB/MySQL ``DATETIME`` without fractional seconds where the metadata
asks for ``DATETIME(6)`` (microseconds would be silently lost).
:func:`compare_type` adds that check and defers to Alembic for the rest.
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Connection, DateTime, MetaData
from sqlalchemy.types import TypeDecorator, TypeEngine

from dirac_core.db.registry import all_metadata

__all__ = ["compare_type", "schema_differences"]


def compare_type(context: MigrationContext, inspected_column: Column[Any],
                 metadata_column: Column[Any], inspected_type: TypeEngine[Any],
                 metadata_type: TypeEngine[Any]) -> bool | None:
    """Alembic ``compare_type`` hook: True if the types differ, None to let Alembic decide."""
    dialect = context.dialect
    wanted = (metadata_type.load_dialect_impl(dialect)
              if isinstance(metadata_type, TypeDecorator) else metadata_type)
    if (dialect.name in ("mysql", "mariadb") and isinstance(wanted, DateTime)
            and isinstance(inspected_type, DateTime)):
        return bool(getattr(wanted, "fsp", None) or 0) != bool(getattr(inspected_type, "fsp", None) or 0)
    return None


def schema_differences(conn: Connection, metadatas: tuple[MetaData, ...] | None = None) -> list[Any]:
    """Alembic's list of differences between the database and ``metadatas`` (default: all).

    An empty list means the migrations produced exactly the tables, columns,
    types, indexes and constraints the code declares.
    """
    context = MigrationContext.configure(conn, opts={"compare_type": compare_type})
    return list(compare_metadata(context, list(metadatas or all_metadata())))  # type: ignore[arg-type]

"""Productions: chains of transformations started, stopped and cleaned as one (system ``prod``).

- ``prod_productions``: one row per production, with its status and owner;
- ``prod_steps``: its steps in order; ``definition`` is the step as JSON (type, plugin, group
  size, body, parameters, queries), ``parents`` the names of the steps it reads from (JSON),
  ``transformation_id`` the transformation made for it when the production started.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text

from dirac_core.db.schema import new_metadata
from dirac_core.db.types import StrEnumType, UTCDateTime
from dirac_core.model.production import ProductionStatus

__all__ = ["metadata", "prod_productions", "prod_steps"]

metadata = new_metadata("prod")

prod_productions = Table(
    "prod_productions",
    metadata,
    Column("production_id", Integer(), primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False),
    Column("description", String(255), nullable=False, default=""),
    Column("status", StrEnumType(ProductionStatus), nullable=False),
    Column("author", String(64), nullable=False),
    Column("author_group", String(64), nullable=False),
    Column("vo", String(64), nullable=False),
    Column("created", UTCDateTime(), nullable=False),
    Column("updated", UTCDateTime(), nullable=False),
    Index(None, "name", unique=True),
)

prod_steps = Table(
    "prod_steps",
    metadata,
    Column("production_id", Integer(), ForeignKey("prod_productions.production_id", ondelete="CASCADE"),
           primary_key=True, autoincrement=False),
    Column("position", Integer(), primary_key=True, autoincrement=False),
    Column("name", String(64), nullable=False),
    Column("definition", Text(), nullable=False),
    Column("parents", Text(), nullable=False),
    Column("transformation_id", BigInteger(), nullable=True),
)

"""catalog: searchable metadata (declared fields, one value table per type) and datasets.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-10
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _name(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(mysql.VARCHAR(length, collation="utf8mb4_bin"),
                                          "mysql", "mariadb")


_VALUE_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "int": sa.BigInteger(), "float": sa.Double(), "string": _name(128), "date": _UTC,
}


def upgrade() -> None:
    """Create the metadata and dataset tables of ``catalog``."""
    op.create_table(
        "catalog_meta_fields",
        sa.Column("field_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", _name(64), nullable=False),
        sa.Column("type", sa.String(8), nullable=False),
        sa.Column("for_files", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("field_id", name="pk_catalog_meta_fields"),
        sa.UniqueConstraint("name", name="uq_catalog_meta_fields_name"),
    )
    for kind, value_type in _VALUE_TYPES.items():
        table = f"catalog_meta_{kind}"
        op.create_table(
            table,
            sa.Column("field_id", sa.Integer(), autoincrement=False, nullable=False),
            sa.Column("item_id", _ID, autoincrement=False, nullable=False),
            sa.Column("value", value_type, nullable=False),
            sa.PrimaryKeyConstraint("field_id", "item_id", name=f"pk_{table}"),
            sqlite_with_rowid=False,
        )
        op.create_index(f"ix_{table}_field_id_value_item_id", table, ["field_id", "value", "item_id"])
    op.create_table(
        "catalog_datasets",
        sa.Column("dataset_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dir_id", _ID, nullable=False),
        sa.Column("name", _name(128), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        sa.Column("path", _name(1024), nullable=False),
        sa.Column("frozen", sa.Boolean(), nullable=False),
        sa.Column("files", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("checksum", sa.String(32), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("created", _UTC, nullable=False),
        sa.Column("modified", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("dataset_id", name="pk_catalog_datasets"),
        sa.UniqueConstraint("dir_id", "name", name="uq_catalog_datasets_dir_id_name"),
    )
    op.create_table(
        "catalog_dataset_files",
        sa.Column("dataset_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("lfn", _name(1024), nullable=False),
        sa.PrimaryKeyConstraint("dataset_id", "position", name="pk_catalog_dataset_files"),
        sa.ForeignKeyConstraint(["dataset_id"], ["catalog_datasets.dataset_id"],
                                name="fk_catalog_dataset_files_dataset_id_catalog_datasets"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    """Drop them."""
    for table in ("catalog_dataset_files", "catalog_datasets", "catalog_meta_date", "catalog_meta_string",
                  "catalog_meta_float", "catalog_meta_int", "catalog_meta_fields"):
        op.drop_table(table)

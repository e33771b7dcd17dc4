"""catalog: the namespace of the SQL file catalog (directories, files, replicas, usage).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-10

Hand-written, types spelled out (see 0001). Names compare byte-wise on MariaDB
(``utf8mb4_bin``); the tables keyed by their primary key are ``WITHOUT ROWID``
on SQLite (clustered, as InnoDB does anyway).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _name(length: int) -> sa.types.TypeEngine[str]:
    return sa.String(length).with_variant(mysql.VARCHAR(length, collation="utf8mb4_bin"),
                                          "mysql", "mariadb")


def upgrade() -> None:
    """Create the namespace tables of ``catalog``."""
    op.create_table(
        "catalog_counters",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_catalog_counters"),
    )
    for table, key in (("catalog_users", "user_id"), ("catalog_groups", "group_id")):
        op.create_table(
            table,
            sa.Column(key, sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("name", _name(64), nullable=False),
            sa.PrimaryKeyConstraint(key, name=f"pk_{table}"),
            sa.UniqueConstraint("name", name=f"uq_{table}_name"),
        )
    op.create_table(
        "catalog_ses",
        sa.Column("se_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", _name(128), nullable=False),
        sa.PrimaryKeyConstraint("se_id", name="pk_catalog_ses"),
        sa.UniqueConstraint("name", name="uq_catalog_ses_name"),
    )
    op.create_table(
        "catalog_directories",
        sa.Column("dir_id", _ID, autoincrement=False, nullable=False),
        sa.Column("parent_id", _ID, nullable=True),
        sa.Column("path", _name(1024), nullable=False),
        sa.Column("path_key", sa.String(32), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.Integer(), nullable=False),
        sa.Column("created", _UTC, nullable=False),
        sa.Column("modified", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("dir_id", name="pk_catalog_directories"),
        sa.UniqueConstraint("path_key", name="uq_catalog_directories_path_key"),
        sa.ForeignKeyConstraint(["owner_id"], ["catalog_users.user_id"],
                                name="fk_catalog_directories_owner_id_catalog_users"),
        sa.ForeignKeyConstraint(["group_id"], ["catalog_groups.group_id"],
                                name="fk_catalog_directories_group_id_catalog_groups"),
    )
    op.create_index("ix_catalog_directories_parent_id", "catalog_directories", ["parent_id"])
    op.create_table(
        "catalog_dir_closure",
        sa.Column("ancestor_id", _ID, autoincrement=False, nullable=False),
        sa.Column("descendant_id", _ID, autoincrement=False, nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("ancestor_id", "descendant_id", name="pk_catalog_dir_closure"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_catalog_dir_closure_descendant_id", "catalog_dir_closure", ["descendant_id"])
    op.create_table(
        "catalog_files",
        sa.Column("file_id", _ID, autoincrement=False, nullable=False),
        sa.Column("dir_id", _ID, nullable=False),
        sa.Column("name", _name(128), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("checksum", sa.String(64), nullable=True),
        sa.Column("guid", sa.String(64), nullable=True),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("mode", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created", _UTC, nullable=False),
        sa.Column("modified", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("file_id", name="pk_catalog_files"),
        sa.UniqueConstraint("dir_id", "name", name="uq_catalog_files_dir_id_name"),
        sa.ForeignKeyConstraint(["dir_id"], ["catalog_directories.dir_id"],
                                name="fk_catalog_files_dir_id_catalog_directories"),
    )
    op.create_index("ix_catalog_files_guid", "catalog_files", ["guid"])
    op.create_table(
        "catalog_replicas",
        sa.Column("file_id", _ID, autoincrement=False, nullable=False),
        sa.Column("se_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("file_id", "se_id", name="pk_catalog_replicas"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "catalog_usage",
        sa.Column("dir_id", _ID, autoincrement=False, nullable=False),
        sa.Column("se_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("files", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("dir_id", "se_id", name="pk_catalog_usage"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    """Drop them."""
    for table in ("catalog_usage", "catalog_replicas", "catalog_files", "catalog_dir_closure",
                  "catalog_directories", "catalog_ses", "catalog_groups", "catalog_users",
                  "catalog_counters"):
        op.drop_table(table)

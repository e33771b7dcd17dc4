"""tfs: transformations, their parameters and queries, files, tasks and task inputs.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

Hand-written, types spelled out (see 0001). Enum columns are VARCHAR(32).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_LONG_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


def _parent(column: str = "transformation_id") -> sa.Column[int]:
    return sa.Column(column, sa.BigInteger(), nullable=False)


def _fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["transformation_id"], ["tfs_transformations.transformation_id"],
                                   ondelete="CASCADE", name=f"fk_{table}_transformation_id_tfs_transformations")


def upgrade() -> None:
    """Create the ``tfs_*`` tables."""
    op.create_table(
        "tfs_transformations",
        sa.Column("transformation_id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.String(255), nullable=False),
        sa.Column("long_description", sa.Text(), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("agent_type", sa.String(32), nullable=False),
        sa.Column("plugin", sa.String(64), nullable=False),
        sa.Column("group_size", sa.Float(), nullable=True),
        sa.Column("body", _LONG_TEXT, nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("author_group", sa.String(64), nullable=False),
        sa.Column("vo", sa.String(64), nullable=False),
        sa.Column("transformation_group", sa.String(64), nullable=False),
        sa.Column("max_tasks", sa.Integer(), nullable=False),
        sa.Column("last_task_id", sa.Integer(), nullable=False),
        sa.Column("created", _UTC, nullable=False),
        sa.Column("updated", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("transformation_id", name="pk_tfs_transformations"),
        sa.UniqueConstraint("name", name="uq_tfs_transformations_name"),
    )
    op.create_index("ix_tfs_transformations_status", "tfs_transformations", ["status"])
    op.create_table(
        "tfs_parameters",
        _parent(),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        _fk("tfs_parameters"),
        sa.PrimaryKeyConstraint("transformation_id", "name", name="pk_tfs_parameters"),
    )
    op.create_table(
        "tfs_queries",
        _parent(),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        _fk("tfs_queries"),
        sa.PrimaryKeyConstraint("transformation_id", "kind", name="pk_tfs_queries"),
    )
    op.create_table(
        "tfs_files",
        sa.Column("file_id", _ID, autoincrement=True, nullable=False),
        _parent(),
        sa.Column("lfn", sa.String(1024), nullable=False),
        sa.Column("lfn_key", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("used_se", sa.String(255), nullable=True),
        sa.Column("error_count", sa.Integer(), nullable=False),
        sa.Column("inserted", _UTC, nullable=False),
        sa.Column("updated", _UTC, nullable=False),
        _fk("tfs_files"),
        sa.PrimaryKeyConstraint("file_id", name="pk_tfs_files"),
        sa.UniqueConstraint("transformation_id", "lfn_key", name="uq_tfs_files_transformation_id_lfn_key"),
    )
    candidates = sa.text("status IN ('Unused', 'ProbInFC')")  # partial where the backend can
    op.create_index("ix_tfs_files_transformation_id_status", "tfs_files", ["transformation_id", "status"],
                    sqlite_where=candidates, postgresql_where=candidates)
    op.create_table(
        "tfs_tasks",
        _parent(),
        sa.Column("task_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("external_id", sa.BigInteger(), nullable=True),
        sa.Column("target_ses", sa.String(255), nullable=False),
        sa.Column("created", _UTC, nullable=False),
        sa.Column("updated", _UTC, nullable=False),
        sa.Column("checked", _UTC, nullable=False),
        _fk("tfs_tasks"),
        sa.PrimaryKeyConstraint("transformation_id", "task_id", name="pk_tfs_tasks"),
    )
    op.create_index("ix_tfs_tasks_transformation_id_status", "tfs_tasks", ["transformation_id", "status"])
    op.create_index("ix_tfs_tasks_status_updated", "tfs_tasks", ["status", "updated"])
    op.create_table(
        "tfs_task_inputs",
        _parent(),
        sa.Column("task_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("file_ids", _LONG_TEXT, nullable=False),
        sa.ForeignKeyConstraint(["transformation_id", "task_id"],
                                ["tfs_tasks.transformation_id", "tfs_tasks.task_id"], ondelete="CASCADE",
                                name="fk_tfs_task_inputs_transformation_id_task_id_tfs_tasks"),
        sa.PrimaryKeyConstraint("transformation_id", "task_id", name="pk_tfs_task_inputs"),
    )


def downgrade() -> None:
    """Drop the transformation tables."""
    for table in ("tfs_task_inputs", "tfs_tasks", "tfs_files", "tfs_queries", "tfs_parameters",
                  "tfs_transformations"):
        op.drop_table(table)

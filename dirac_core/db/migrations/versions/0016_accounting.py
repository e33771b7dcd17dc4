"""accounting: records of jobs, pilots and data operations.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08

Hand-written, types spelled out (see 0001). Enum columns are VARCHAR(32).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_TABLES = ("accounting_jobs", "accounting_pilots", "accounting_data_operations")


def upgrade() -> None:
    """Create ``accounting_jobs``, ``accounting_pilots`` and ``accounting_data_operations``."""
    op.create_table(
        "accounting_jobs",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("owner_group", sa.String(64), nullable=False),
        sa.Column("vo", sa.String(64), nullable=False),
        sa.Column("site", sa.String(128), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("job_type", sa.String(32), nullable=False),
        sa.Column("cpu_seconds", sa.Float(), nullable=False),
        sa.Column("wall_seconds", sa.Float(), nullable=False),
        sa.Column("processors", sa.Integer(), nullable=False),
        sa.Column("start_time", _UTC, nullable=True),
        sa.Column("end_time", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_accounting_jobs"),
    )
    op.create_index("ix_accounting_jobs_job_id", "accounting_jobs", ["job_id"])
    op.create_table(
        "accounting_pilots",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("pilot_stamp", sa.String(64), nullable=False),
        sa.Column("vo", sa.String(64), nullable=False),
        sa.Column("site", sa.String(128), nullable=False),
        sa.Column("ce", sa.String(128), nullable=False),
        sa.Column("queue", sa.String(128), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("jobs", sa.Integer(), nullable=False),
        sa.Column("wall_seconds", sa.Float(), nullable=False),
        sa.Column("end_time", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_accounting_pilots"),
    )
    op.create_table(
        "accounting_data_operations",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("operation", sa.String(32), nullable=False),
        sa.Column("vo", sa.String(64), nullable=False),
        sa.Column("source_se", sa.String(64), nullable=False),
        sa.Column("target_se", sa.String(64), nullable=False),
        sa.Column("files", sa.Integer(), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("end_time", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_accounting_data_operations"),
    )
    for table in _TABLES:
        op.create_index(f"ix_{table}_end_time", table, ["end_time"])
        op.create_index(f"ix_{table}_vo_end_time", table, ["vo", "end_time"])


def downgrade() -> None:
    """Drop them."""
    for table in reversed(_TABLES):
        op.drop_table(table)

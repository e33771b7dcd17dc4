"""dms: staging (replicas recalled from tape, and the jobs waiting for them).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    """Create ``dms_stage_replicas`` and ``dms_stage_jobs``."""
    op.create_table(
        "dms_stage_replicas",
        sa.Column("replica_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("lfn", sa.String(1024), nullable=False),
        sa.Column("se", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(255), nullable=False),
        sa.Column("created", _UTC, nullable=False),
        sa.Column("submitted", _UTC, nullable=True),
        sa.Column("updated", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("replica_id", name="pk_dms_stage_replicas"),
    )
    op.create_index("uq_dms_stage_replicas_se_lfn", "dms_stage_replicas", ["se", "lfn"], unique=True,
                    mysql_length={"lfn": 700})
    op.create_index("ix_dms_stage_replicas_status_se", "dms_stage_replicas", ["status", "se"])
    op.create_table(
        "dms_stage_jobs",
        sa.Column("job_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("replica_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("job_id", "replica_id", name="pk_dms_stage_jobs"),
    )
    op.create_index("ix_dms_stage_jobs_replica_id", "dms_stage_jobs", ["replica_id"])


def downgrade() -> None:
    """Drop the staging tables."""
    op.drop_table("dms_stage_jobs")
    op.drop_table("dms_stage_replicas")

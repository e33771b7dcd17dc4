"""wms: pilots, sandboxes and the sandboxes of jobs.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    """Create ``wms_pilots``, ``wms_sandboxes`` and ``wms_sandbox_jobs``."""
    op.create_table(
        "wms_pilots",
        sa.Column("pilot_stamp", sa.String(64), nullable=False),
        sa.Column("vo", sa.String(64), nullable=False),
        sa.Column("grid_type", sa.String(32), nullable=False),
        sa.Column("grid_site", sa.String(128), nullable=False),
        sa.Column("destination_site", sa.String(128), nullable=False),
        sa.Column("queue", sa.String(128), nullable=False),
        sa.Column("pilot_reference", sa.String(255), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("status_reason", sa.String(255), nullable=False),
        sa.Column("submission_time", _UTC, nullable=False),
        sa.Column("last_update_time", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("pilot_stamp", name="pk_wms_pilots"),
    )
    for columns in (["status"], ["grid_site", "status"], ["destination_site", "status"],
                    ["pilot_reference"]):
        op.create_index(f"ix_wms_pilots_{'_'.join(columns)}", "wms_pilots", columns)
    op.create_table(
        "wms_sandboxes",
        sa.Column("pfn", sa.String(512), nullable=False),
        sa.Column("vo", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("owner_group", sa.String(64), nullable=False),
        sa.Column("checksum", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("uploaded", sa.Boolean(), nullable=False),
        sa.Column("created", _UTC, nullable=False),
        sa.Column("last_access", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("pfn", name="pk_wms_sandboxes"),
    )
    op.create_index("ix_wms_sandboxes_last_access", "wms_sandboxes", ["last_access"])
    op.create_table(
        "wms_sandbox_jobs",
        sa.Column("job_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("pfn", sa.String(512), nullable=False),
        sa.PrimaryKeyConstraint("job_id", "kind", "pfn", name="pk_wms_sandbox_jobs"),
    )
    op.create_index("ix_wms_sandbox_jobs_pfn", "wms_sandbox_jobs", ["pfn"])


def downgrade() -> None:
    """Drop them."""
    for table in ("wms_sandbox_jobs", "wms_sandboxes", "wms_pilots"):
        op.drop_table(table)

"""core: task leases (core_task_leases).

Revision ID: 0001
Revises:
Create Date: 2026-01-01

Hand-written. Types are spelled out here rather than imported from
``dirac_core.db.types``, so this revision keeps creating the same schema even
if the Python types change later. A UTC timestamp is a naive DATETIME with
microseconds (``DATETIME(6)`` on MariaDB/MySQL).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    """Create ``core_task_leases``."""
    op.create_table(
        "core_task_leases",
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("acquired_at", _UTC, nullable=False),
        sa.Column("expires_at", _UTC, nullable=False),
        sa.Column("last_run_at", _UTC, nullable=True),
        sa.Column("run_count", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.PrimaryKeyConstraint("name", name="pk_core_task_leases"),
    )


def downgrade() -> None:
    """Drop ``core_task_leases``."""
    op.drop_table("core_task_leases")

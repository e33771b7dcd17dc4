"""rss: element statuses, their history, SE test transfers.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08

Hand-written, types spelled out (see 0001). Enum columns are VARCHAR(32).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create ``rss_status``, ``rss_history`` and ``rss_se_tests``."""
    op.create_table(
        "rss_status",
        sa.Column("element_type", sa.String(32), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("status_type", sa.String(32), nullable=False),
        sa.Column("vo", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(512), nullable=False),
        sa.Column("date_effective", _UTC, nullable=False),
        sa.Column("last_check", _UTC, nullable=False),
        sa.Column("token_owner", sa.String(64), nullable=False),
        sa.Column("token_expiration", _UTC, nullable=True),
        sa.PrimaryKeyConstraint("element_type", "name", "status_type", "vo", name="pk_rss_status"),
    )
    op.create_index("ix_rss_status_token_expiration", "rss_status", ["token_expiration"])
    op.create_table(
        "rss_history",
        sa.Column("entry_id", _ID, autoincrement=True, nullable=False),
        sa.Column("element_type", sa.String(32), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("status_type", sa.String(32), nullable=False),
        sa.Column("vo", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("previous", sa.String(32), nullable=True),
        sa.Column("reason", sa.String(512), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("token_expiration", _UTC, nullable=True),
        sa.Column("changed", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("entry_id", name="pk_rss_history"),
    )
    op.create_index("ix_rss_history_element_type_name_changed", "rss_history",
                    ["element_type", "name", "changed"])
    op.create_table(
        "rss_se_tests",
        sa.Column("se", sa.String(255), nullable=False),
        sa.Column("checked", _UTC, nullable=False),
        sa.Column("write_ok", sa.Boolean(), nullable=True),
        sa.Column("read_ok", sa.Boolean(), nullable=True),
        sa.Column("remove_ok", sa.Boolean(), nullable=True),
        sa.Column("error", sa.String(1024), nullable=False),
        sa.Column("seconds", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("se", name="pk_rss_se_tests"),
    )


def downgrade() -> None:
    """Drop the ``rss_*`` tables."""
    op.drop_table("rss_se_tests")
    op.drop_index("ix_rss_history_element_type_name_changed", table_name="rss_history")
    op.drop_table("rss_history")
    op.drop_index("ix_rss_status_token_expiration", table_name="rss_status")
    op.drop_table("rss_status")

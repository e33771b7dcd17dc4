"""auth: challenges of X.509 proxy logins.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07

Hand-written, types spelled out (see 0001).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    """Create ``auth_proxy_challenges``."""
    op.create_table(
        "auth_proxy_challenges",
        sa.Column("nonce_hash", sa.String(64), nullable=False),
        sa.Column("created", _UTC, nullable=False),
        sa.Column("expires", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("nonce_hash", name="pk_auth_proxy_challenges"),
    )
    op.create_index("ix_auth_proxy_challenges_expires", "auth_proxy_challenges", ["expires"])


def downgrade() -> None:
    """Drop ``auth_proxy_challenges``."""
    op.drop_index("ix_auth_proxy_challenges_expires", table_name="auth_proxy_challenges")
    op.drop_table("auth_proxy_challenges")

"""auth: logins in progress at an external identity provider (OIDC browser flow, device relay).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07

Hand-written, types spelled out (see 0001).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    """Create ``auth_provider_logins``."""
    op.create_table(
        "auth_provider_logins",
        sa.Column("login_hash", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("client_id", sa.String(128), nullable=False),
        sa.Column("scope", sa.String(1024), nullable=False),
        sa.Column("redirect_uri", sa.String(1024), nullable=True),
        sa.Column("code_challenge", sa.String(128), nullable=True),
        sa.Column("client_state", sa.String(1024), nullable=True),
        sa.Column("nonce", sa.String(128), nullable=True),
        sa.Column("code_verifier", sa.String(128), nullable=True),
        sa.Column("provider_device_code", sa.String(1024), nullable=True),
        sa.Column("poll_interval", sa.Integer(), nullable=True),
        sa.Column("next_poll", _UTC, nullable=True),
        sa.Column("created", _UTC, nullable=False),
        sa.Column("expires", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("login_hash", name="pk_auth_provider_logins"),
    )
    op.create_index("ix_auth_provider_logins_expires", "auth_provider_logins", ["expires"])


def downgrade() -> None:
    """Drop ``auth_provider_logins``."""
    op.drop_index("ix_auth_provider_logins_expires", table_name="auth_provider_logins")
    op.drop_table("auth_provider_logins")

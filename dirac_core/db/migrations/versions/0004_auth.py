"""auth: signing keys, device flows, refresh tokens, authorization codes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    """Create the ``auth_*`` tables."""
    op.create_table(
        "auth_signing_keys",
        sa.Column("kid", sa.String(64), nullable=False),
        sa.Column("algorithm", sa.String(16), nullable=False),
        sa.Column("private_jwk", sa.Text(), nullable=False),
        sa.Column("created", _UTC, nullable=False),
        sa.Column("retired", _UTC, nullable=True),
        sa.PrimaryKeyConstraint("kid", name="pk_auth_signing_keys"),
    )
    op.create_table(
        "auth_device_flows",
        sa.Column("user_code", sa.String(16), nullable=False),
        sa.Column("device_code_hash", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(128), nullable=False),
        sa.Column("scope", sa.String(1024), nullable=False),
        sa.Column("created", _UTC, nullable=False),
        sa.Column("expires", _UTC, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("user", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("user_code", name="pk_auth_device_flows"),
        sa.UniqueConstraint("device_code_hash", name="uq_auth_device_flows_device_code_hash"),
    )
    op.create_index("ix_auth_device_flows_expires", "auth_device_flows", ["expires"])
    op.create_table(
        "auth_refresh_tokens",
        sa.Column("jti", sa.String(64), nullable=False),
        sa.Column("family", sa.String(64), nullable=False),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("vo", sa.String(64), nullable=False),
        sa.Column("owner_group", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(1024), nullable=False),
        sa.Column("issued", _UTC, nullable=False),
        sa.Column("expires", _UTC, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("jti", name="pk_auth_refresh_tokens"),
    )
    for column in ("family", "user", "expires"):
        op.create_index(f"ix_auth_refresh_tokens_{column}", "auth_refresh_tokens", [column])
    op.create_table(
        "auth_authorization_codes",
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("client_id", sa.String(128), nullable=False),
        sa.Column("redirect_uri", sa.String(1024), nullable=False),
        sa.Column("code_challenge", sa.String(128), nullable=False),
        sa.Column("scope", sa.String(1024), nullable=False),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("expires", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("code_hash", name="pk_auth_authorization_codes"),
    )
    op.create_index("ix_auth_authorization_codes_expires", "auth_authorization_codes", ["expires"])


def downgrade() -> None:
    """Drop the ``auth_*`` tables."""
    for table in ("auth_authorization_codes", "auth_refresh_tokens", "auth_device_flows",
                  "auth_signing_keys"):
        op.drop_table(table)

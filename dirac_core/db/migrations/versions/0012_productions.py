"""prod: productions and their steps.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07

Hand-written, types spelled out (see 0001).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


def upgrade() -> None:
    """Create ``prod_productions`` and ``prod_steps``."""
    op.create_table(
        "prod_productions",
        sa.Column("production_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.String(255), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("author_group", sa.String(64), nullable=False),
        sa.Column("vo", sa.String(64), nullable=False),
        sa.Column("created", _UTC, nullable=False),
        sa.Column("updated", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("production_id", name="pk_prod_productions"),
    )
    op.create_index("ix_prod_productions_name", "prod_productions", ["name"], unique=True)
    op.create_table(
        "prod_steps",
        sa.Column("production_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("parents", sa.Text(), nullable=False),
        sa.Column("transformation_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["production_id"], ["prod_productions.production_id"], ondelete="CASCADE",
                                name="fk_prod_steps_production_id_prod_productions"),
        sa.PrimaryKeyConstraint("production_id", "position", name="pk_prod_steps"),
    )


def downgrade() -> None:
    """Drop the production tables."""
    op.drop_table("prod_steps")
    op.drop_table("prod_productions")

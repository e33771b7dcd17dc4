"""wms: the outputs of ended pilots.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
_LONG = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


def upgrade() -> None:
    """Create ``wms_pilot_outputs``."""
    op.create_table(
        "wms_pilot_outputs",
        sa.Column("pilot_stamp", sa.String(64), nullable=False),
        sa.Column("stdout", _LONG, nullable=False),
        sa.Column("stderr", _LONG, nullable=False),
        sa.Column("retrieved", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("pilot_stamp", name="pk_wms_pilot_outputs"),
    )


def downgrade() -> None:
    """Drop ``wms_pilot_outputs``."""
    op.drop_table("wms_pilot_outputs")

"""rms: requests, their operations and the operations' files.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07

Hand-written, types spelled out (see 0001).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create ``rms_requests``, ``rms_operations`` and ``rms_files``."""
    op.create_table(
        "rms_requests",
        sa.Column("request_id", _ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("owner_group", sa.String(64), nullable=False),
        sa.Column("vo", sa.String(64), nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("error", sa.String(2048), nullable=False),
        sa.Column("not_before", _UTC, nullable=True),
        sa.Column("created", _UTC, nullable=False),
        sa.Column("updated", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("request_id", name="pk_rms_requests"),
    )
    for columns in (["status", "not_before"], ["job_id"], ["owner", "status"]):
        op.create_index(f"ix_rms_requests_{'_'.join(columns)}", "rms_requests", columns)
    op.create_table(
        "rms_operations",
        sa.Column("operation_id", _ID, autoincrement=True, nullable=False),
        sa.Column("request_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("arguments", sa.Text(), nullable=False),
        sa.Column("source_se", sa.String(255), nullable=False),
        sa.Column("target_se", sa.String(255), nullable=False),
        sa.Column("catalogs", sa.String(255), nullable=False),
        sa.Column("error", sa.String(2048), nullable=False),
        sa.Column("created", _UTC, nullable=False),
        sa.Column("updated", _UTC, nullable=False),
        sa.ForeignKeyConstraint(["request_id"], ["rms_requests.request_id"], ondelete="CASCADE",
                                name="fk_rms_operations_request_id_rms_requests"),
        sa.PrimaryKeyConstraint("operation_id", name="pk_rms_operations"),
    )
    op.create_index("ix_rms_operations_request_id_position", "rms_operations", ["request_id", "position"])
    op.create_index("ix_rms_operations_type_status", "rms_operations", ["type", "status"])
    op.create_table(
        "rms_files",
        sa.Column("file_id", _ID, autoincrement=True, nullable=False),
        sa.Column("operation_id", sa.BigInteger(), nullable=False),
        sa.Column("lfn", sa.String(1024), nullable=False),
        sa.Column("pfn", sa.String(1024), nullable=False),
        sa.Column("guid", sa.String(36), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("checksum", sa.String(128), nullable=True),
        sa.Column("checksum_type", sa.String(16), nullable=True),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(2048), nullable=False),
        sa.ForeignKeyConstraint(["operation_id"], ["rms_operations.operation_id"], ondelete="CASCADE",
                                name="fk_rms_files_operation_id_rms_operations"),
        sa.PrimaryKeyConstraint("file_id", name="pk_rms_files"),
    )
    op.create_index("ix_rms_files_operation_id", "rms_files", ["operation_id"])
    op.create_index("ix_rms_files_lfn_status", "rms_files", ["lfn", "status"], mysql_length={"lfn": 700})


def downgrade() -> None:
    """Drop the request tables."""
    op.drop_table("rms_files")
    op.drop_table("rms_operations")
    op.drop_table("rms_requests")

"""wms: jobs, JDLs, input data, parameters, history, heartbeats, commands, task queues.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25

Hand-written, types spelled out (see 0001). Enum columns are VARCHAR(32).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_UTC = sa.DateTime(timezone=False).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_LONG_TEXT = sa.Text().with_variant(mysql.MEDIUMTEXT(), "mysql", "mariadb")


def _pk(table: str) -> str:
    return f"pk_{table}"


def upgrade() -> None:
    """Create the ``wms_*`` tables."""
    op.create_table(
        "wms_counters",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=_pk("wms_counters")),
    )
    op.create_table(
        "wms_jobs",
        sa.Column("job_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("minor_status", sa.String(128), nullable=False),
        sa.Column("application_status", sa.String(255), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("owner_group", sa.String(64), nullable=False),
        sa.Column("vo", sa.String(64), nullable=False),
        sa.Column("job_name", sa.String(128), nullable=False),
        sa.Column("job_type", sa.String(32), nullable=False),
        sa.Column("job_group", sa.String(128), nullable=False),
        sa.Column("site", sa.String(128), nullable=False),
        sa.Column("user_priority", sa.Integer(), nullable=False),
        sa.Column("cpu_time", sa.Integer(), nullable=False),
        sa.Column("submission_time", _UTC, nullable=False),
        sa.Column("last_update_time", _UTC, nullable=False),
        sa.Column("reschedule_time", _UTC, nullable=True),
        sa.Column("start_exec_time", _UTC, nullable=True),
        sa.Column("end_exec_time", _UTC, nullable=True),
        sa.Column("heartbeat_time", _UTC, nullable=True),
        sa.Column("reschedule_counter", sa.Integer(), nullable=False),
        sa.Column("verified_flag", sa.Boolean(), nullable=False),
        sa.Column("accounted_flag", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name=_pk("wms_jobs")),
    )
    for columns in (["status"], ["site", "status"], ["owner"], ["owner_group"], ["job_group"],
                    ["last_update_time"]):
        op.create_index(f"ix_wms_jobs_{'_'.join(columns)}", "wms_jobs", columns)
    op.create_table(
        "wms_job_jdls",
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("jdl", _LONG_TEXT, nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["wms_jobs.job_id"], ondelete="CASCADE",
                                name="fk_wms_job_jdls_job_id_wms_jobs"),
        sa.PrimaryKeyConstraint("job_id", name=_pk("wms_job_jdls")),
    )
    op.create_table(
        "wms_input_data",
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("lfn", sa.String(1024), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["wms_jobs.job_id"], ondelete="CASCADE",
                                name="fk_wms_input_data_job_id_wms_jobs"),
        sa.PrimaryKeyConstraint("job_id", "position", name=_pk("wms_input_data")),
    )
    op.create_table(
        "wms_job_parameters",
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["job_id"], ["wms_jobs.job_id"], ondelete="CASCADE",
                                name="fk_wms_job_parameters_job_id_wms_jobs"),
        sa.PrimaryKeyConstraint("job_id", "name", name=_pk("wms_job_parameters")),
    )
    op.create_table(
        "wms_job_history",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(32), nullable=True),
        sa.Column("minor_status", sa.String(128), nullable=True),
        sa.Column("application_status", sa.String(255), nullable=True),
        sa.Column("status_time", _UTC, nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("refused", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=_pk("wms_job_history")),
    )
    op.create_index("ix_wms_job_history_job_id", "wms_job_history", ["job_id"])
    op.create_index("ix_wms_job_history_status_time", "wms_job_history", ["status_time"])
    op.create_table(
        "wms_heartbeats",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.Column("heartbeat_time", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=_pk("wms_heartbeats")),
    )
    op.create_index("ix_wms_heartbeats_job_id", "wms_heartbeats", ["job_id"])
    op.create_table(
        "wms_job_commands",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.BigInteger(), nullable=False),
        sa.Column("command", sa.String(32), nullable=False),
        sa.Column("arguments", sa.String(1024), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reception_time", _UTC, nullable=False),
        sa.Column("execution_time", _UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name=_pk("wms_job_commands")),
    )
    op.create_index("ix_wms_job_commands_job_id_status", "wms_job_commands", ["job_id", "status"])
    op.create_table(
        "wms_job_to_pilot",
        sa.Column("job_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("pilot_stamp", sa.String(64), nullable=False),
        sa.Column("start_time", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("job_id", "pilot_stamp", name=_pk("wms_job_to_pilot")),
    )
    op.create_index("ix_wms_job_to_pilot_pilot_stamp", "wms_job_to_pilot", ["pilot_stamp"])
    op.create_table(
        "wms_task_queues",
        sa.Column("tq_id", _ID, autoincrement=True, nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("owner_group", sa.String(64), nullable=False),
        sa.Column("vo", sa.String(64), nullable=False),
        sa.Column("cpu_time", sa.BigInteger(), nullable=False),
        *(sa.Column(name, sa.Text(), nullable=False)
          for name in ("sites", "banned_sites", "grid_ces", "platforms", "job_types", "tags")),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("created", _UTC, nullable=False),
        sa.PrimaryKeyConstraint("tq_id", name=_pk("wms_task_queues")),
    )
    op.create_index("ix_wms_task_queues_fingerprint", "wms_task_queues", ["fingerprint"])
    op.create_index("ix_wms_task_queues_owner_group_owner", "wms_task_queues",
                    ["owner_group", "owner"])
    op.create_table(
        "wms_tq_jobs",
        sa.Column("job_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("tq_id", sa.BigInteger(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("real_priority", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("job_id", name=_pk("wms_tq_jobs")),
    )
    op.create_index("ix_wms_tq_jobs_tq_id_rank_job_id", "wms_tq_jobs", ["tq_id", "rank", "job_id"])


def downgrade() -> None:
    """Drop the ``wms_*`` tables."""
    for table in ("wms_tq_jobs", "wms_task_queues", "wms_job_to_pilot", "wms_job_commands",
                  "wms_heartbeats", "wms_job_history", "wms_job_parameters", "wms_input_data",
                  "wms_job_jdls", "wms_jobs", "wms_counters"):
        op.drop_table(table)

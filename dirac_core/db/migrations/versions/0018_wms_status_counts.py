"""wms: job counts per status maintained as jobs change (``wms_status_counts``, ``wms_status_changes``).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07

The job monitor's status counts of a whole VO counted a million index entries (150-175 ms on
MariaDB and PostgreSQL). Writers now append their changes to ``wms_status_changes``; a periodic
fold adds them into ``wms_status_counts`` (see :mod:`dirac_core.wms.status_counts`). The
counts start from the jobs already there, with the fold's lock row (empty VO, group and
status). On MariaDB/MySQL the ``wms_claim`` procedure of 0003 also appends its Waiting ->
Matched change, as a single-row ``INSERT ... VALUES`` (InnoDB treats an ``INSERT ... SELECT``
as a bulk insert, which takes the table's auto-increment lock for the whole statement). The
extra row costs matching about a tenth of its rate on MariaDB (``benchmarks/test_wms_bench.py``,
2026-12-07: 4 processes 2,124 -> 1,997 matches/s; the raw claim, with and without the row,
2,104 -> 1,816). Hand-written, types spelled out (see 0001).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_CLAIM = """
CREATE PROCEDURE wms_claim(IN p_tq BIGINT, IN p_site VARCHAR(128), IN p_now DATETIME(6),
                           IN p_source VARCHAR(64), IN p_stamp VARCHAR(64))
MODIFIES SQL DATA
BEGIN
    DECLARE v_job BIGINT DEFAULT NULL;
    DECLARE v_waiting INT DEFAULT 0;
    DECLARE v_vo VARCHAR(64);
    DECLARE v_group VARCHAR(64);
    DECLARE CONTINUE HANDLER FOR NOT FOUND SET v_job = NULL;
    SELECT job_id INTO v_job FROM wms_tq_jobs WHERE tq_id = p_tq
        ORDER BY `rank`, job_id LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF v_job IS NOT NULL THEN
        DELETE FROM wms_tq_jobs WHERE job_id = v_job;
        UPDATE wms_jobs
            SET status = 'Matched', minor_status = 'Assigned', application_status = 'Unknown',
                site = p_site, last_update_time = p_now
            WHERE job_id = v_job AND status = 'Waiting';
        SET v_waiting = ROW_COUNT();
        IF v_waiting > 0 THEN
            INSERT INTO wms_job_history
                (job_id, status, minor_status, application_status, status_time, source, refused)
                VALUES (v_job, 'Matched', 'Assigned', 'Unknown', p_now, p_source, 0);
            SELECT vo, owner_group INTO v_vo, v_group FROM wms_jobs WHERE job_id = v_job;
            INSERT INTO wms_status_changes (vo, owner_group, old_status, new_status, count)
                VALUES (v_vo, v_group, 'Waiting', 'Matched', 1);
            IF p_stamp <> '' THEN
                INSERT INTO wms_job_to_pilot (job_id, pilot_stamp, start_time)
                    VALUES (v_job, p_stamp, p_now);
            END IF;
        END IF;
    END IF;
    SELECT v_job, v_waiting, (SELECT jdl FROM wms_job_jdls WHERE job_id = v_job);
END
"""


def _claim_of_0003() -> str:
    from importlib import import_module

    return str(import_module("dirac_core.db.migrations.versions.0003_wms_claims_history_index")._CREATE)


def upgrade() -> None:
    """Create the two tables, count the jobs there are, and replace ``wms_claim`` on MariaDB."""
    op.create_table(
        "wms_status_counts",
        sa.Column("vo", sa.String(64), nullable=False),
        sa.Column("owner_group", sa.String(64), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("vo", "owner_group", "status", name="pk_wms_status_counts"),
    )
    op.create_table(
        "wms_status_changes",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("vo", sa.String(64), nullable=False),
        sa.Column("owner_group", sa.String(64), nullable=False),
        sa.Column("old_status", sa.String(32), nullable=True),
        sa.Column("new_status", sa.String(32), nullable=True),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_wms_status_changes"),
    )
    op.execute("INSERT INTO wms_status_counts (vo, owner_group, status, count) VALUES ('', '', '', 0)")
    op.execute("INSERT INTO wms_status_counts (vo, owner_group, status, count) "
               "SELECT vo, owner_group, status, COUNT(*) FROM wms_jobs GROUP BY vo, owner_group, status")
    if op.get_bind().dialect.name == "mysql":
        op.execute("DROP PROCEDURE IF EXISTS wms_claim")
        op.execute(_CLAIM)


def downgrade() -> None:
    """Drop the two tables; ``wms_claim`` as 0003 made it."""
    if op.get_bind().dialect.name == "mysql":
        op.execute("DROP PROCEDURE IF EXISTS wms_claim")
        op.execute(_claim_of_0003())
    op.drop_table("wms_status_changes")
    op.drop_table("wms_status_counts")

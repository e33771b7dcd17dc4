"""wms: the matcher's claim as one stored procedure on MariaDB/MySQL; history by job and time.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25

MariaDB has neither ``UPDATE ... RETURNING`` nor data-modifying CTEs, so a
claim took six round trips (pick, delete, update, two inserts, commit); as a
procedure it takes two (the call and the commit). It runs in the caller's
transaction (several claims may share one). It returns one
row: job id, whether the job was Waiting, JDL (all NULL when the queue is
empty). Nothing is created on SQLite or PostgreSQL.

The history index on ``job_id`` becomes ``(job_id, status_time)``: a bulk
status update reads each job's latest record time, which is then one index
dive instead of a read of all the job's records.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CREATE = """
CREATE PROCEDURE wms_claim(IN p_tq BIGINT, IN p_site VARCHAR(128), IN p_now DATETIME(6),
                           IN p_source VARCHAR(64), IN p_stamp VARCHAR(64))
MODIFIES SQL DATA
BEGIN
    DECLARE v_job BIGINT DEFAULT NULL;
    DECLARE v_waiting INT DEFAULT 0;
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
            IF p_stamp <> '' THEN
                INSERT INTO wms_job_to_pilot (job_id, pilot_stamp, start_time)
                    VALUES (v_job, p_stamp, p_now);
            END IF;
        END IF;
    END IF;
    SELECT v_job, v_waiting, (SELECT jdl FROM wms_job_jdls WHERE job_id = v_job);
END
"""


def upgrade() -> None:
    """Create ``wms_claim`` on MariaDB/MySQL; widen the history's job index."""
    op.create_index("ix_wms_job_history_job_id_status_time", "wms_job_history",
                    ["job_id", "status_time"])
    op.drop_index("ix_wms_job_history_job_id", "wms_job_history")
    if op.get_bind().dialect.name == "mysql":
        op.execute("DROP PROCEDURE IF EXISTS wms_claim")
        op.execute(_CREATE)


def downgrade() -> None:
    """Drop ``wms_claim`` on MariaDB/MySQL; back to the history's job-only index."""
    op.create_index("ix_wms_job_history_job_id", "wms_job_history", ["job_id"])
    op.drop_index("ix_wms_job_history_job_id_status_time", "wms_job_history")
    if op.get_bind().dialect.name == "mysql":
        op.execute("DROP PROCEDURE IF EXISTS wms_claim")

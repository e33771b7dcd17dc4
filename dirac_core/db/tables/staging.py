"""Staging: replicas being recalled from tape, and the jobs waiting for them.

- ``dms_stage_replicas``: one row per (LFN, SE) being recalled, with its
  :class:`~dirac_core.model.staging.StageStatus`, when it was submitted and why it failed;
- ``dms_stage_jobs``: which job waits for which replica.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, String, Table

from dirac_core.db.schema import new_metadata
from dirac_core.db.types import StrEnumType, UTCDateTime
from dirac_core.model.staging import StageStatus

__all__ = ["metadata", "stage_jobs", "stage_replicas"]

metadata = new_metadata("dms")

stage_replicas = Table(
    "dms_stage_replicas",
    metadata,
    Column("replica_id", Integer(), primary_key=True, autoincrement=True),
    Column("lfn", String(1024), nullable=False),
    Column("se", String(64), nullable=False),
    Column("status", StrEnumType(StageStatus), nullable=False),
    Column("reason", String(255), nullable=False, default=""),
    Column("created", UTCDateTime(), nullable=False),
    Column("submitted", UTCDateTime(), nullable=True),
    Column("updated", UTCDateTime(), nullable=False),
    # unique on a prefix on MariaDB, whose index keys stop at 3,072 bytes
    Index("uq_dms_stage_replicas_se_lfn", "se", "lfn", unique=True, mysql_length={"lfn": 700}),
    Index(None, "status", "se"),
)

stage_jobs = Table(
    "dms_stage_jobs",
    metadata,
    Column("job_id", BigInteger(), primary_key=True, autoincrement=False),
    Column("replica_id", Integer(), primary_key=True, autoincrement=False),
    Index(None, "replica_id"),
)

"""Tables of the ``accounting`` system: one append-only table of records per record type.

Design choices:

- A record is written once, when the thing it describes ended (a job reached a final status,
  a pilot ended, a transfer finished), and never updated: inserts only, in bulk.
- Each table is keyed by its own auto-increment id and indexed on its time column alone and
  with the VO first: a report reads one time range, of one VO when a server answers it, and
  groups the rows by a time bin and a key in SQL (:mod:`dirac_core.accounting.bins`).
- Keys (site, owner, CE, SE, ...) are plain strings copied from the record's source: accounting
  must keep reporting what happened after a site, a user or an SE is renamed or removed.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, Index, Integer, String, Table

from dirac_core.db.schema import new_metadata
from dirac_core.db.types import StrEnumType, UTCDateTime
from dirac_core.model.job import JobStatus
from dirac_core.model.pilot import PilotStatus

__all__ = ["data_operations", "jobs", "metadata", "pilots"]

metadata = new_metadata("accounting")

_ID = BigInteger().with_variant(Integer(), "sqlite")

#: One row per job execution that reached a final status (a rescheduled job may have several).
jobs = Table(
    "accounting_jobs",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("job_id", BigInteger(), nullable=False),
    Column("owner", String(64), nullable=False),
    Column("owner_group", String(64), nullable=False),
    Column("vo", String(64), nullable=False),
    Column("site", String(128), nullable=False),
    Column("status", StrEnumType(JobStatus), nullable=False),
    Column("job_type", String(32), nullable=False),
    Column("cpu_seconds", Float(), nullable=False),
    Column("wall_seconds", Float(), nullable=False),
    Column("processors", Integer(), nullable=False),
    Column("start_time", UTCDateTime(), nullable=True),
    Column("end_time", UTCDateTime(), nullable=False),
    Index(None, "end_time"),
    Index(None, "vo", "end_time"),
    Index(None, "job_id"),
)

#: One row per pilot that ended.
pilots = Table(
    "accounting_pilots",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("pilot_stamp", String(64), nullable=False),
    Column("vo", String(64), nullable=False),
    Column("site", String(128), nullable=False),
    Column("ce", String(128), nullable=False),
    Column("queue", String(128), nullable=False),
    Column("status", StrEnumType(PilotStatus), nullable=False),
    Column("jobs", Integer(), nullable=False),
    Column("wall_seconds", Float(), nullable=False),
    Column("end_time", UTCDateTime(), nullable=False),
    Index(None, "end_time"),
    Index(None, "vo", "end_time"),
)

#: One row per data operation (a transfer of one or more files, or its failure).
data_operations = Table(
    "accounting_data_operations",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("operation", String(32), nullable=False),
    Column("vo", String(64), nullable=False),
    Column("source_se", String(64), nullable=False),
    Column("target_se", String(64), nullable=False),
    Column("files", Integer(), nullable=False),
    Column("bytes", BigInteger(), nullable=False),
    Column("seconds", Float(), nullable=False),
    Column("success", Boolean(), nullable=False),
    Column("end_time", UTCDateTime(), nullable=False),
    Index(None, "end_time"),
    Index(None, "vo", "end_time"),
)

"""Requests (the to-do list): requests, their ordered operations, and the operations' files.

- ``rms_requests``: owner, group, VO, the job it belongs to (if any), status, ``not_before``;
- ``rms_operations``: one row per operation, ``position`` gives the order inside its request;
  arguments as JSON text, SE lists comma-separated;
- ``rms_files``: the files of an operation, with their attempt count and last error.

Rows of one request are written in one transaction; the executor takes requests by status and
``not_before`` (the index ``status, not_before``).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text

from dirac_core.db.schema import new_metadata
from dirac_core.db.types import StrEnumType, UTCDateTime
from dirac_core.model.request import OperationStatus, RequestFileStatus, RequestStatus

__all__ = ["metadata", "rms_files", "rms_operations", "rms_requests"]

metadata = new_metadata("rms")

rms_requests = Table(
    "rms_requests",
    metadata,
    Column("request_id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
           autoincrement=True),
    Column("name", String(255), nullable=False),
    Column("owner", String(64), nullable=False),
    Column("owner_group", String(64), nullable=False),
    Column("vo", String(64), nullable=False),
    Column("job_id", BigInteger(), nullable=True),
    Column("source", String(64), nullable=False, default=""),
    Column("status", StrEnumType(RequestStatus), nullable=False),
    Column("error", String(2048), nullable=False, default=""),
    Column("not_before", UTCDateTime(), nullable=True),
    Column("created", UTCDateTime(), nullable=False),
    Column("updated", UTCDateTime(), nullable=False),
    Index(None, "status", "not_before"),
    Index(None, "job_id"),
    Index(None, "owner", "status"),
)

rms_operations = Table(
    "rms_operations",
    metadata,
    Column("operation_id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
           autoincrement=True),
    Column("request_id", BigInteger(), ForeignKey("rms_requests.request_id", ondelete="CASCADE"),
           nullable=False),
    Column("position", Integer(), nullable=False),
    Column("type", String(64), nullable=False),
    Column("status", StrEnumType(OperationStatus), nullable=False),
    Column("arguments", Text(), nullable=False, default="{}"),
    Column("source_se", String(255), nullable=False, default=""),
    Column("target_se", String(255), nullable=False, default=""),
    Column("catalogs", String(255), nullable=False, default=""),
    Column("error", String(2048), nullable=False, default=""),
    Column("created", UTCDateTime(), nullable=False),
    Column("updated", UTCDateTime(), nullable=False),
    Index(None, "request_id", "position"),
    Index(None, "type", "status"),
)

rms_files = Table(
    "rms_files",
    metadata,
    Column("file_id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("operation_id", BigInteger(), ForeignKey("rms_operations.operation_id", ondelete="CASCADE"),
           nullable=False),
    Column("lfn", String(1024), nullable=False),
    Column("pfn", String(1024), nullable=False, default=""),
    Column("guid", String(36), nullable=True),
    Column("size", BigInteger(), nullable=True),
    Column("checksum", String(128), nullable=True),
    Column("checksum_type", String(16), nullable=True),
    Column("status", StrEnumType(RequestFileStatus), nullable=False),
    Column("attempt", Integer(), nullable=False, default=0),
    Column("error", String(2048), nullable=False, default=""),
    Index(None, "operation_id"),
    Index(None, "lfn", "status", mysql_length={"lfn": 700}),
)

"""Resource status: the current status of every element, its history, and the SE test transfers.

- ``rss_status``: one row per (element type, name, status type, VO): the status, why, since when
  (``date_effective``), when policies last looked (``last_check``), and who holds it
  (``token_owner``, ``token_expiration``: a manual override until then; the policies' own
  owner otherwise). DIRAC's ``SiteStatus``/``ResourceStatus``/``NodeStatus`` in one table, the
  element type being part of the key.
- ``rss_history``: append-only, one row per change: the new and the previous status, the reason,
  who (a user or the policies) and until when an override holds. Never updated, so writers never
  contend on it.
- ``rss_se_tests``: the last test transfer of each SE (write, read, remove: True, False, or None
  when the step was not tried), the observation the ``SETestTransfer`` policy reads.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, Index, Integer, String, Table

from dirac_core.db.schema import new_metadata
from dirac_core.db.types import StrEnumType, UTCDateTime
from dirac_core.model.resource_status import ElementType, ResourceStatus

__all__ = ["history", "metadata", "se_tests", "status"]

metadata = new_metadata("rss")

status = Table(
    "rss_status",
    metadata,
    Column("element_type", StrEnumType(ElementType), primary_key=True),
    Column("name", String(255), primary_key=True),
    Column("status_type", String(32), primary_key=True),
    Column("vo", String(64), primary_key=True),
    Column("status", StrEnumType(ResourceStatus), nullable=False),
    Column("reason", String(512), nullable=False, default=""),
    Column("date_effective", UTCDateTime(), nullable=False),
    Column("last_check", UTCDateTime(), nullable=False),
    Column("token_owner", String(64), nullable=False),
    Column("token_expiration", UTCDateTime(), nullable=True),
    Index(None, "token_expiration"),
)

history = Table(
    "rss_history",
    metadata,
    Column("entry_id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True),
    Column("element_type", StrEnumType(ElementType), nullable=False),
    Column("name", String(255), nullable=False),
    Column("status_type", String(32), nullable=False),
    Column("vo", String(64), nullable=False),
    Column("status", StrEnumType(ResourceStatus), nullable=False),
    Column("previous", StrEnumType(ResourceStatus), nullable=True),
    Column("reason", String(512), nullable=False, default=""),
    Column("owner", String(64), nullable=False),
    Column("token_expiration", UTCDateTime(), nullable=True),
    Column("changed", UTCDateTime(), nullable=False),
    Index(None, "element_type", "name", "changed"),
)

se_tests = Table(
    "rss_se_tests",
    metadata,
    Column("se", String(255), primary_key=True),
    Column("checked", UTCDateTime(), nullable=False),
    Column("write_ok", Boolean(), nullable=True),
    Column("read_ok", Boolean(), nullable=True),
    Column("remove_ok", Boolean(), nullable=True),
    Column("error", String(1024), nullable=False, default=""),
    Column("seconds", Float(), nullable=False, default=0.0),
)

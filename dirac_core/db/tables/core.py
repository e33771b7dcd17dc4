"""Tables of the ``core`` system: what the foundation itself needs to store."""

from __future__ import annotations

from sqlalchemy import Column, Integer, String, Table, text

from dirac_core.db.schema import new_metadata
from dirac_core.db.types import UTCDateTime

__all__ = ["metadata", "task_leases"]

metadata = new_metadata("core")

#: One row per periodic task: who holds it, until when, and how often it ran.
#: The row outlives a release (the lease just expires), so ``last_run_at`` and
#: ``run_count`` keep the task's history.
task_leases = Table(
    "core_task_leases",
    metadata,
    Column("name", String(128), primary_key=True),
    Column("owner", String(255), nullable=False),
    Column("acquired_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("last_run_at", UTCDateTime(), nullable=True),
    Column("run_count", Integer(), nullable=False, server_default=text("0")),
)

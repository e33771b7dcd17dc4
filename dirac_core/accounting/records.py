"""Accounting records: what one job execution, one pilot or one data operation used.

Records are values (frozen attrs classes); :class:`~dirac_core.accounting.engine.Accounting`
writes them in bulk, and builds them itself from the workload tables when jobs and pilots end.
Times are aware UTC datetimes (a naive one is refused), durations are seconds.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

import attrs

from dirac_core.model.clock import ensure_utc
from dirac_core.model.job import JobStatus
from dirac_core.model.pilot import PilotStatus

__all__ = ["DataOperationRecord", "JobRecord", "PilotRecord", "RecordType"]


class RecordType(StrEnum):
    """The kinds of record, named as reports name them."""

    JOB = "job"
    PILOT = "pilot"
    DATA = "data"


def _utc(value: datetime) -> datetime:
    return ensure_utc(value, name="record time")


def _utc_or_none(value: datetime | None) -> datetime | None:
    return None if value is None else _utc(value)


def _non_negative(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if value < 0:
        raise ValueError(f"{attribute.name} must be >= 0, got {value!r}")


@attrs.frozen(kw_only=True)
class JobRecord:
    """One execution of a job that reached a final status (Done, Failed or Killed).

    ``cpu_seconds`` is what the payload's process tree used (summed over its processes),
    ``wall_seconds`` how long it ran; both 0 for a job that never ran.
    """

    job_id: int
    owner: str
    group: str
    vo: str
    site: str
    status: JobStatus = attrs.field(converter=JobStatus)
    job_type: str = "User"
    cpu_seconds: float = attrs.field(default=0.0, converter=float, validator=_non_negative)
    wall_seconds: float = attrs.field(default=0.0, converter=float, validator=_non_negative)
    processors: int = attrs.field(default=1, validator=attrs.validators.ge(1))
    start: datetime | None = attrs.field(default=None, converter=_utc_or_none)
    end: datetime = attrs.field(converter=_utc)

    def row(self) -> dict[str, Any]:
        """The ``accounting_jobs`` row."""
        return {"job_id": self.job_id, "owner": self.owner, "owner_group": self.group, "vo": self.vo,
                "site": self.site, "status": self.status, "job_type": self.job_type,
                "cpu_seconds": self.cpu_seconds, "wall_seconds": self.wall_seconds,
                "processors": self.processors, "start_time": self.start, "end_time": self.end}


@attrs.frozen(kw_only=True)
class PilotRecord:
    """One pilot that ended: where it ran, how it ended, how many jobs it ran and for how long."""

    pilot_stamp: str
    vo: str
    site: str
    ce: str
    queue: str = ""
    status: PilotStatus = attrs.field(converter=PilotStatus)
    jobs: int = attrs.field(default=0, validator=_non_negative)
    wall_seconds: float = attrs.field(default=0.0, converter=float, validator=_non_negative)
    end: datetime = attrs.field(converter=_utc)

    def row(self) -> dict[str, Any]:
        """The ``accounting_pilots`` row."""
        return {"pilot_stamp": self.pilot_stamp, "vo": self.vo, "site": self.site, "ce": self.ce,
                "queue": self.queue, "status": self.status, "jobs": self.jobs,
                "wall_seconds": self.wall_seconds, "end_time": self.end}


@attrs.frozen(kw_only=True)
class DataOperationRecord:
    """One data operation: ``files`` files of ``bytes`` bytes moved from ``source_se`` to
    ``target_se`` in ``seconds`` (an empty SE name: local disk), or the failure to.

    ``operation`` is the data manager's name for it: ``Upload``, ``Replication``, ``Download``.
    """

    operation: str
    vo: str
    source_se: str = ""
    target_se: str = ""
    files: int = attrs.field(default=1, validator=_non_negative)
    bytes: int = attrs.field(default=0, validator=_non_negative)
    seconds: float = attrs.field(default=0.0, converter=float, validator=_non_negative)
    success: bool = True
    end: datetime = attrs.field(converter=_utc)

    def row(self) -> dict[str, Any]:
        """The ``accounting_data_operations`` row."""
        return {"operation": self.operation, "vo": self.vo, "source_se": self.source_se,
                "target_se": self.target_se, "files": self.files, "bytes": self.bytes,
                "seconds": self.seconds, "success": self.success, "end_time": self.end}


def as_plain(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A database row with enum members as their values (for JSON and tables)."""
    return {k: v.value if isinstance(v, StrEnum) else v for k, v in row.items()}

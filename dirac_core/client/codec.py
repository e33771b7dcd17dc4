"""JSON in and out of the job routes: the engine's types from DiracX's JSON, and back.

Answers are read into what :class:`~dirac_core.wms.engine.WorkloadManager`
returns (aware datetimes, :class:`~dirac_core.model.job.JobStatus`, attrs
classes, :class:`~dirac_core.errors.BulkResult`), so results compare equal
whichever side produced them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

import attrs

from dirac_core.db.types import UTCDateTime
from dirac_core.errors import BulkResult, DiracError, InvalidTransition, NotFound, PermissionDenied
from dirac_core.model.job import JobStatus
from dirac_core.wms.query import COLUMNS, LOGGING_INFO, Filter, Sort, VectorFilter, parse_search, parse_sort
from dirac_core.wms.resource import ResourceDescription
from dirac_core.wms.status_updates import JobState, StatusUpdate

__all__ = ["TIME_PARAMETERS", "bulk", "failure", "filters", "history", "jsonable", "resource_mapping",
           "rows", "sorts", "state", "status_update", "when"]

V = TypeVar("V")

#: Search parameters holding times (sent as ISO 8601 text).
TIME_PARAMETERS = frozenset(name for name, col in COLUMNS.items() if isinstance(col.type, UTCDateTime))

_NOT_FOUND = re.compile(r"job \d+ (not found|does not exist)")
#: the refusals of :mod:`dirac_core.authorization` that a bulk answer lists by job (403, not 404)
_REFUSED = re.compile(r"job \d+ is not held by pilot \S+|\S+ may only read job \d+ .*")
_HISTORY_TIMES = ("status_time",)
_UPDATE_KEYS = {"Status": "status", "MinorStatus": "minor_status",
                "ApplicationStatus": "application_status", "Source": "source"}


def when(text: str | None) -> datetime | None:
    """An ISO 8601 time from the server (aware), or None."""
    return None if text is None else datetime.fromisoformat(text)


def jsonable(value: Any) -> Any:
    """``value`` with datetimes as ISO 8601 text and enums as their values (lists, dicts walked)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return value


def filters(items: Sequence[Filter | Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Filters as DiracX's JSON, checked here first (``InvalidQuery`` as the engine raises it)."""
    typed = [item if not isinstance(item, Mapping) else parse_search([item])[0] for item in items]
    return [{"parameter": f.parameter, "operator": f.operator.value, "values": jsonable(f.values)}
            if isinstance(f, VectorFilter) else
            {"parameter": f.parameter, "operator": f.operator.value, "value": jsonable(f.value)}
            for f in typed]


def sorts(items: Sequence[Sort | Mapping[str, Any]]) -> list[Sort]:
    """Sort keys, checked (``InvalidQuery``)."""
    return [item if isinstance(item, Sort) else parse_sort([item])[0] for item in items]


def rows(found: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Search or summary rows with their time parameters as datetimes again."""
    out = []
    for row in found:
        one: dict[str, Any] = {k: when(v) if k in TIME_PARAMETERS else v for k, v in row.items()}
        if LOGGING_INFO in row:
            one[LOGGING_INFO] = [{**rec, "StatusTime": when(rec.get("StatusTime"))}
                                 for rec in row[LOGGING_INFO]]
        out.append(one)
    return out


def history(records: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """History records as the engine gives them (``status`` a JobStatus, ``status_time`` a datetime)."""
    return [{**rec, "status": JobStatus(rec["status"]) if rec.get("status") is not None else None,
             **{k: when(rec.get(k)) for k in _HISTORY_TIMES}} for rec in records]


def state(data: Mapping[str, Any]) -> JobState:
    """A :class:`JobState` from the status route's answer."""
    return JobState(status=JobStatus(data["Status"]), minor_status=data["MinorStatus"],
                    application_status=data["ApplicationStatus"],
                    heartbeat_time=when(data.get("HeartBeatTime")),
                    start_exec_time=when(data.get("StartExecTime")),
                    end_exec_time=when(data.get("EndExecTime")),
                    last_update_time=datetime.fromisoformat(data["LastUpdateTime"]))


def status_update(update: StatusUpdate | Mapping[str, Any]) -> dict[str, Any]:
    """One status update as DiracX's JSON (checked here: an unknown status raises ``ValueError``)."""
    if not isinstance(update, StatusUpdate):
        update = StatusUpdate(**{_UPDATE_KEYS.get(k, k): v for k, v in update.items()})
    names = {v: k for k, v in _UPDATE_KEYS.items()}
    return {names[k]: jsonable(v) for k, v in attrs.asdict(update).items() if v is not None}


def resource_mapping(resource: ResourceDescription) -> dict[str, Any]:
    """A resource description as the DIRAC keys a pilot sends."""
    out: dict[str, Any] = {"Site": resource.site, "CPUTime": resource.cpu_time,
                           "NumberOfProcessors": resource.processors}
    optional = {"GridCE": resource.grid_ce, "CEQueue": resource.queue,
                "MaxRAM": resource.max_ram_mb, "Owner": resource.owner,
                "VirtualOrganization": resource.vo, "PilotReference": resource.pilot_stamp}
    out.update({k: v for k, v in optional.items() if v is not None})
    sets = {"Platform": resource.platforms, "RequiredTag": resource.required_tags,
            "OwnerGroup": resource.owner_groups, "JobType": resource.job_types,
            "BannedSites": resource.banned_sites}
    out.update({k: sorted(v) for k, v in sets.items() if v})
    if resource.tags is not None:
        out["Tag"] = sorted(resource.tags)
    if resource.whole_node:
        out["WholeNode"] = "true"
    return out


def failure(detail: Any, job_id: int, other: type[DiracError]) -> DiracError:
    """The error of a failed bulk item: ``NotFound`` for a job not found, ``PermissionDenied`` for a
    job the caller may know of but not act on, else ``other``."""
    text = str(detail.get("detail", detail) if isinstance(detail, Mapping) else detail)
    kind = NotFound if _NOT_FOUND.fullmatch(text) else PermissionDenied if _REFUSED.fullmatch(text) else other
    return kind(text, job_id=job_id)


def bulk(answer: Mapping[str, Any], value: Callable[[Any], V],
         other: type[DiracError] = InvalidTransition) -> BulkResult[int, V]:
    """A :class:`BulkResult` from ``{"success": {id: value}, "failed": {id: {"detail": ...}}}``."""
    result: BulkResult[int, V] = BulkResult()
    for key, ok in answer.get("success", {}).items():
        result.add_ok(int(key), value(ok))
    for key, failed in answer.get("failed", {}).items():
        result.add_failed(int(key), failure(failed, int(key), other))
    return result

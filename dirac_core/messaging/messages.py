"""The messages the interware publishes: one schema, built by pure functions.

Every message is a JSON object with these keys first (``SCHEMA_VERSION`` 1):

- ``schema``: 1; a consumer refuses a version it does not know;
- ``type``: ``job.status``, ``pilot.registered``, ``pilot.started``, ``pilot.ended``,
  ``data.registered``, ``data.replicated`` or ``request.done``;
- ``id``: a random hex id; delivery is at-least-once (a message whose receipt was lost is sent
  again), so consumers drop an ``id`` they have seen;
- ``time``: when it happened, ISO 8601 in UTC (``2026-01-01T12:00:00.000000+00:00``);
- ``vo``: the virtual organisation it concerns ("" when unknown).

and then the fields of its type (see docs/messaging.md for examples):

- ``job.status``: ``job_ids``, ``status``, ``minor_status``, ``old_status`` (job id as text ->
  the status it left), ``source`` (who reported it);
- ``pilot.registered``: ``pilot_stamp``, ``status``, ``site``, ``queue``, ``grid_type``,
  ``grid_site``, ``pilot_reference``; ``pilot.started`` (now Running) and ``pilot.ended`` (a
  final status): ``pilot_stamp``, ``status``, ``old_status``, ``reason``;
- ``data.registered``: ``lfns``, ``files`` (``{"lfn", "size", "checksum", "se"}`` each, None
  where the caller did not say);
  ``data.replicated``: ``lfns``, ``source_se``, ``target_se``, ``third_party``;
- ``request.done``: ``request_id``, ``name``, ``status``, ``error``, ``owner``, ``owner_group``,
  ``job_id``, ``operations`` (a list of ``{"type", "status"}``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dirac_core.rms.request import Request

__all__ = [
    "SCHEMA_VERSION",
    "MessageKind",
    "data_registered",
    "data_replicated",
    "envelope",
    "job_status",
    "pilot_event",
    "request_done",
    "vo_of_lfn",
]

SCHEMA_VERSION = 1


class MessageKind(StrEnum):
    """The kinds of message, each sent to its own destination (``[messaging.destinations]``)."""

    JOB_STATUS = "job_status"
    PILOT_EVENT = "pilot_event"
    DATA_OPERATION = "data_operation"
    REQUEST_DONE = "request_done"


def envelope(type_: str, *, time: datetime, vo: str) -> dict[str, Any]:
    """The keys every message starts with (``time`` made UTC)."""
    moment = time.replace(tzinfo=UTC) if time.tzinfo is None else time.astimezone(UTC)
    return {"schema": SCHEMA_VERSION, "type": type_, "id": uuid.uuid4().hex,
            "time": moment.isoformat(timespec="microseconds"), "vo": vo}


def job_status(*, job_ids: Sequence[int], vo: str, status: str, minor_status: str,
               old_status: Mapping[int, str], source: str, time: datetime) -> dict[str, Any]:
    """Jobs of ``vo`` moved to ``status`` (``old_status``: where each came from)."""
    return {**envelope("job.status", time=time, vo=vo), "job_ids": [int(i) for i in job_ids],
            "status": status, "minor_status": minor_status,
            "old_status": {str(i): old_status[i] for i in job_ids if i in old_status}, "source": source}


def pilot_event(*, pilot_stamp: str, event: str, details: Mapping[str, Any], time: datetime
                ) -> dict[str, Any]:
    """A pilot was registered, started or ended (``details``: see the ``dirac_pilot_event`` hook)."""
    message = {**envelope(f"pilot.{event}", time=time, vo=str(details.get("vo", ""))),
               "pilot_stamp": pilot_stamp, "status": str(details.get("status", ""))}
    if event == "registered":
        message.update({key: str(details.get(field, "")) for key, field in _REGISTRATION.items()})
    else:
        message.update({"old_status": str(details.get("previous_status", "")),
                        "reason": str(details.get("reason", ""))})
    return message


#: message key -> pilot record field, for ``pilot.registered``
_REGISTRATION = {"site": "destination_site", "queue": "queue", "grid_type": "grid_type",
                 "grid_site": "grid_site", "pilot_reference": "pilot_reference"}


def vo_of_lfn(lfn: str) -> str:
    """The VO an LFN belongs to: its first path component (``/demo/user/a/alice/x`` -> ``demo``)."""
    return lfn.lstrip("/").split("/", 1)[0]


def data_registered(*, lfns: Sequence[str], metadata: Mapping[str, Mapping[str, Any]],
                    time: datetime) -> list[dict[str, Any]]:
    """Files were registered in the catalog: one message per VO of their LFNs."""
    out = []
    for vo, group in _by_vo(lfns).items():
        files = []
        for lfn in group:
            meta = metadata.get(lfn) or {}
            files.append({"lfn": lfn, "size": meta.get("Size"), "checksum": meta.get("Checksum"),
                          "se": meta.get("SE")})
        out.append({**envelope("data.registered", time=time, vo=vo), "lfns": group, "files": files})
    return out


def data_replicated(*, lfns: Sequence[str], source: str, target: str, third_party: bool,
                    time: datetime) -> list[dict[str, Any]]:
    """Files were copied from SE ``source`` to SE ``target`` and registered there."""
    return [{**envelope("data.replicated", time=time, vo=vo), "lfns": group, "source_se": source,
             "target_se": target, "third_party": bool(third_party)}
            for vo, group in _by_vo(lfns).items()]


def request_done(request: Request, *, time: datetime) -> dict[str, Any]:
    """A request reached a final status."""
    return {**envelope("request.done", time=time, vo=request.vo), "request_id": request.request_id,
            "name": request.name, "status": str(request.status), "error": request.error,
            "owner": request.owner, "owner_group": request.owner_group, "job_id": request.job_id,
            "operations": [{"type": op.type, "status": str(op.status)} for op in request.operations]}


def _by_vo(lfns: Sequence[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for lfn in lfns:
        groups.setdefault(vo_of_lfn(lfn), []).append(lfn)
    return groups

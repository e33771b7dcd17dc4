"""Resource statuses as JSON: what ``/api/status``, its remote client
(:class:`~dirac_core.client.status.RemoteStatus`) and ``dirac-core status --json`` exchange, written
once for all three.

Each object is flat: a status record is the fields of its key (``element_type``, ``name``,
``status_type``, ``vo``) and the record's own (``status``, ``reason``, ``date_effective``,
``last_check``, ``token_owner``, ``token_expiration``); a history entry likewise (``status``,
``previous``, ``reason``, ``owner``, ``changed``, ``token_expiration``); an element its type,
name, ``site``, ``ce`` and ``status_types``. Statuses and types travel as their values, times as
ISO 8601 with their zone. Reading raises ``KeyError`` or ``ValueError`` for a malformed object.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from dirac_core.model.clock import ensure_utc
from dirac_core.model.resource_status import Element, ElementKey, ResourceStatus
from dirac_core.rss.records import HistoryEntry, StatusRecord

__all__ = ["element_from_json", "element_json", "entry_from_json", "entry_json", "key_from_json", "key_json",
           "record_from_json", "record_json"]


def _time_json(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _time(value: Any, name: str) -> datetime:
    return ensure_utc(datetime.fromisoformat(str(value)), name=name)


def _maybe_time(value: Any, name: str) -> datetime | None:
    return None if value is None else _time(value, name)


def key_json(key: ElementKey) -> dict[str, Any]:
    """What a status row is about: element type, name, status type, VO."""
    return {"element_type": str(key.element_type), "name": key.name, "status_type": str(key.status_type),
            "vo": key.vo}


def key_from_json(data: Mapping[str, Any]) -> ElementKey:
    """The inverse of :func:`key_json` (extra keys ignored: a record or an entry holds one)."""
    return ElementKey(element_type=data["element_type"], name=data["name"], status_type=data["status_type"],
                      vo=data["vo"])


def record_json(record: StatusRecord) -> dict[str, Any]:
    """One stored status (``dirac-core status list --json`` prints a list of these)."""
    return {**key_json(record.key), "status": str(record.status), "reason": record.reason,
            "date_effective": _time_json(record.date_effective), "last_check": _time_json(record.last_check),
            "token_owner": record.token_owner, "token_expiration": _time_json(record.token_expiration)}


def record_from_json(data: Mapping[str, Any]) -> StatusRecord:
    """The inverse of :func:`record_json`."""
    return StatusRecord(key=key_from_json(data), status=ResourceStatus(data["status"]), reason=data["reason"],
                        date_effective=_time(data["date_effective"], "date_effective"),
                        last_check=_time(data["last_check"], "last_check"), token_owner=data["token_owner"],
                        token_expiration=_maybe_time(data.get("token_expiration"), "token_expiration"))


def entry_json(entry: HistoryEntry) -> dict[str, Any]:
    """One status change (``dirac-core status history --json`` prints a list of these)."""
    return {**key_json(entry.key), "status": str(entry.status),
            "previous": None if entry.previous is None else str(entry.previous), "reason": entry.reason,
            "owner": entry.owner, "changed": _time_json(entry.changed),
            "token_expiration": _time_json(entry.token_expiration)}


def entry_from_json(data: Mapping[str, Any]) -> HistoryEntry:
    """The inverse of :func:`entry_json`."""
    previous = data.get("previous")
    return HistoryEntry(key=key_from_json(data), status=ResourceStatus(data["status"]),
                        previous=None if previous is None else ResourceStatus(previous),
                        reason=data["reason"], owner=data["owner"], changed=_time(data["changed"], "changed"),
                        token_expiration=_maybe_time(data.get("token_expiration"), "token_expiration"))


def element_json(element: Element) -> dict[str, Any]:
    """An element of the configuration: type, name, where it sits, its status types."""
    return {"element_type": str(element.element_type), "name": element.name, "site": element.site,
            "ce": element.ce, "status_types": [str(t) for t in element.status_types]}


def element_from_json(data: Mapping[str, Any]) -> Element:
    """The inverse of :func:`element_json` (the status types follow from the type)."""
    return Element(element_type=data["element_type"], name=data["name"], site=data.get("site"),
                   ce=data.get("ce"))

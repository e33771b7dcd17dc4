"""The pilot registry of a server, with :class:`~dirac_core.wms.pilots.PilotRegistry`'s methods."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from dirac_core.client.errors import error_for
from dirac_core.client.transport import Transport
from dirac_core.errors import BulkResult, DiracError, InvalidTransition, NotFound
from dirac_core.model.pilot import PilotStatus
from dirac_core.wms.pilots import PilotRecord

__all__ = ["RemotePilots"]


class RemotePilots:
    """``/api/pilots``: register pilots and report their statuses."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def register(self, records: Sequence[PilotRecord]) -> BulkResult[str, None]:
        """Register pilots, one request per (VO, place); a known stamp fails its item."""
        result: BulkResult[str, None] = BulkResult()
        groups: dict[tuple[str, ...], list[PilotRecord]] = {}
        for record in records:
            key = (record.vo, record.grid_type, record.grid_site, record.destination_site,
                   record.queue, str(record.status))
            groups.setdefault(key, []).append(record)
        for (vo, grid_type, grid_site, destination, queue, status), group in groups.items():
            answer = self.transport.request("POST", "/api/pilots/", idempotent=False, accept=(409,), json={
                "pilot_stamps": [r.pilot_stamp for r in group], "vo": vo, "grid_type": grid_type,
                "grid_site": grid_site, "destination_site": destination, "queue": queue,
                "pilot_references": {r.pilot_stamp: r.pilot_reference for r in group},
                "pilot_status": status})
            _merge(result, answer.json(), lambda _: None)
        return result

    def set_status(self, updates: Mapping[str, tuple[PilotStatus | str, str]]) -> BulkResult[str, Any]:
        """New statuses ``{stamp: (status, reason)}``; refused moves fail their item."""
        result: BulkResult[str, Any] = BulkResult()
        if not updates:
            return result
        answer = self.transport.request("PATCH", "/api/pilots/metadata", idempotent=True,
                                        accept=(409,), json={"pilot_metadata": [
                                            {"PilotStamp": stamp, "Status": str(status),
                                             "StatusReason": reason[:255]}
                                            for stamp, (status, reason) in updates.items()]})
        if answer.status_code == 409 and "failed" not in answer.json():
            raise error_for(answer)
        _merge(result, answer.json(), lambda value: value)
        return result


def _merge(result: BulkResult[str, Any], body: Mapping[str, Any], value: Any) -> None:
    for stamp, got in (body.get("success") or {}).items():
        result.add_ok(stamp, value(got))
    for stamp, failure in (body.get("failed") or {}).items():
        detail = str(failure.get("detail", failure))
        error: DiracError = (NotFound(detail, pilot=stamp) if "not found" in detail
                             else InvalidTransition(detail, pilot=stamp) if "transition" in detail
                             else DiracError(detail, pilot=stamp))
        result.add_failed(stamp, error)

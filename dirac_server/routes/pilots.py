"""``/api/pilots``: pilot registration, status reports and search.

Registering and reporting need ``GenericPilot`` or ``ServiceAdministrator``
(DiracX's pilot-management policy), for pilots of the caller's VO; a pilot's own
token (bound to its stamp) may only report on itself. Searching needs
``ServiceAdministrator``, ``JobAdministrator`` or ``Operator``, and stays within
the caller's VO. The rules are ``pilot.*`` of :mod:`dirac_core.authorization`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from dirac_core.authorization import Action, PilotRef, allowed, require
from dirac_core.errors import BulkResult, NotFound
from dirac_core.model.pilot import PilotStatus
from dirac_core.wms.pilots import PilotRecord
from dirac_server.deps import Caller, Iw
from dirac_server.limits import MAX_PAGE

router = APIRouter(prefix="/api/pilots", tags=["pilots"])


class Registration(BaseModel):
    """Pilots submitted together to one place (DiracX's body)."""

    pilot_stamps: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=10_000)
    vo: str
    grid_type: str = Field(default="", max_length=32)
    grid_site: str = Field(default="", max_length=128)
    destination_site: str = Field(default="", max_length=128)
    queue: str = Field(default="", max_length=128)
    pilot_references: dict[str, Annotated[str, Field(max_length=255)]] = Field(default_factory=dict)
    pilot_status: PilotStatus = PilotStatus.SUBMITTED


class StatusReport(BaseModel):
    """One pilot's new status."""

    PilotStamp: str = Field(min_length=1, max_length=64)
    Status: PilotStatus
    StatusReason: str = Field(default="", max_length=255)


class Reports(BaseModel):
    """Status reports (DiracX's ``pilot_metadata``)."""

    pilot_metadata: list[StatusReport] = Field(min_length=1, max_length=10_000)


class PilotSearch(BaseModel):
    """Search by equality on pilot columns (``{"Status": ["Running"], ...}``)."""

    equal: dict[str, list[Any]] = Field(default_factory=dict)


def _answer(result: BulkResult[str, Any], status: int) -> JSONResponse:
    body = {"success": dict(result.ok),
            "failed": {k: {"detail": str(e)} for k, e in result.failed.items()}}
    return JSONResponse(jsonable_encoder(body), status_code=status if result.ok else 409)


@router.post("/", status_code=201)
def register(iw: Iw, identity: Caller, body: Registration) -> JSONResponse:
    """Register pilots (a stamp already known fails its item)."""
    require(identity, Action.PILOT_REGISTER, PilotRef(vo=body.vo))
    records = [PilotRecord(pilot_stamp=stamp, vo=body.vo, grid_type=body.grid_type,
                           grid_site=body.grid_site, destination_site=body.destination_site,
                           queue=body.queue, pilot_reference=body.pilot_references.get(stamp, ""),
                           status=body.pilot_status) for stamp in body.pilot_stamps]
    return _answer(iw.pilots.register(records), 201)


@router.patch("/metadata")
def report(iw: Iw, identity: Caller, body: Reports) -> JSONResponse:
    """New statuses; the pilot status table refuses backward moves (item fails, 409 if all do)."""
    require(identity, Action.PILOT_REPORT)
    wanted = {r.PilotStamp: (r.Status, r.StatusReason) for r in body.pilot_metadata}
    known = iw.pilots.get(wanted)
    mine = {s for s, row in known.items()
            if allowed(identity, Action.PILOT_REPORT, PilotRef(vo=row["VO"], stamp=s))}
    result = iw.pilots.set_status({s: wanted[s] for s in wanted if s in mine})
    for stamp in set(wanted) - mine:
        result.add_failed(stamp, NotFound(f"pilot {stamp} not found", pilot=stamp))
    return _answer(result, 200)


@router.post("/search")
def search(iw: Iw, identity: Caller, body: PilotSearch | None = None,
           page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
           per_page: Annotated[int, Query(ge=1, le=10_000)] = 100) -> JSONResponse:
    """Pilots of the caller's VO, newest first; 206 with ``Content-Range`` when partial."""
    require(identity, Action.PILOT_READ)
    rows, total = iw.pilots.search(vo=identity.vo, equal=(body or PilotSearch()).equal,
                                   page=page, per_page=per_page)
    first = (page - 1) * per_page
    content = jsonable_encoder(rows)
    if rows and (first > 0 or first + len(rows) < total):
        return JSONResponse(content, status_code=206,
                            headers={"Content-Range": f"pilots {first}-{first + len(rows) - 1}/{total}"})
    return JSONResponse(content)


@router.get("/{pilot_stamp}/jobs")
def jobs_of_pilot(iw: Iw, identity: Caller, pilot_stamp: str) -> list[int]:
    """The jobs a pilot was given."""
    require(identity, Action.PILOT_READ)
    row = iw.pilots.get([pilot_stamp]).get(pilot_stamp)
    if row is None or not allowed(identity, Action.PILOT_READ, PilotRef(vo=row["VO"], stamp=pilot_stamp)):
        raise NotFound(f"pilot {pilot_stamp} not found", pilot=pilot_stamp)
    return sorted(iw.pilots.jobs_of([pilot_stamp])[pilot_stamp])

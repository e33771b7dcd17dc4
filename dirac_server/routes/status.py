"""``/api/status``: the resource status system (``iw.status``) over HTTP. Our own routes: DiracX has none.

- ``GET /api/status?element_type=&name=&status_type=&status=``: ``statuses``, in key order;
- ``GET /api/status/history?name=&element_type=&limit=``: ``history``, the latest changes, oldest
  first;
- ``GET /api/status/{name}?element_type=&limit=``: the element, its statuses and its latest
  changes (``dirac-core status show``);
- ``POST /api/status/{name}``: ``set_status`` (body: ``status``, ``reason``, ``status_type``,
  ``element_type``, ``until`` or ``seconds``, ``vo``); the records set, owned by the caller;
- ``DELETE /api/status/{name}?status_type=&element_type=&vo=``: ``release``; the keys handed back.

``name`` may hold ``/`` (a queue is ``<ce>/<queue>``); an element called ``history`` is read
through the listing (``?name=history``). Statuses are not a VO's: every caller with a token reads
every row (a row for one VO included), and ``status.change`` of :mod:`dirac_core.authorization`
(``ServiceAdministrator`` or ``Operator``) sets and releases them (403 otherwise); the owner of a
manual status is the caller. Answers have the shapes of ``dirac-core status ... --json``
(:mod:`dirac_core.rss.wire`). An unknown element is 404; a status type the element does not have,
an expiry that is naive or not in the future, or a name several element types share, 400 whose
``error.fields.parameter`` names what is wrong (:class:`~dirac_server.typed_errors.TypedErrorRoute`);
a value of no enumeration is FastAPI's 422.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from dirac_core.authorization import Action, require
from dirac_core.errors import DiracError, NotFound
from dirac_core.interware import Interware
from dirac_core.model.clock import ensure_utc
from dirac_core.model.resource_status import ALL, Element, ElementType, ResourceStatus, StatusType
from dirac_core.rss.wire import element_json, entry_json, key_json, record_json
from dirac_server.deps import Caller, Iw
from dirac_server.errors import BadRequest
from dirac_server.typed_errors import TypedErrorRoute

__all__ = ["MAX_HISTORY", "MAX_SECONDS", "router"]

router = APIRouter(prefix="/api/status", tags=["status"], route_class=TypedErrorRoute)

#: the most history entries one call returns
MAX_HISTORY = 10_000
#: the longest manual status, as a duration (ten years)
MAX_SECONDS = 10 * 366 * 86400.0

_NO_NUL = r"^[^\x00]*$"  # PostgreSQL stores no NUL: refused here, not by the database
Name = Annotated[str, Path(min_length=1, max_length=255, description="An element; a queue is <ce>/<queue>")]
Named = Annotated[str | None, Query(min_length=1, max_length=255, description="One element")]
Kind = Annotated[ElementType | None, Query(description="The element type (when a name is ambiguous)")]
Vo = Annotated[str, Field(min_length=1, max_length=64, pattern=_NO_NUL)]


class KeyOut(BaseModel):
    """What one status row is about."""

    element_type: ElementType
    name: str
    status_type: StatusType
    vo: str


class StatusOut(KeyOut):
    """One stored status: ``token_owner`` ``rss`` is the policies', any other a manual status
    held until ``token_expiration``."""

    status: ResourceStatus
    reason: str
    date_effective: datetime
    last_check: datetime
    token_owner: str
    token_expiration: datetime | None


class HistoryOut(KeyOut):
    """One status change."""

    status: ResourceStatus
    previous: ResourceStatus | None
    reason: str
    owner: str
    changed: datetime
    token_expiration: datetime | None


class ElementOut(BaseModel):
    """An element of the configuration."""

    element_type: ElementType
    name: str
    site: str | None
    ce: str | None
    status_types: list[StatusType]


class ElementStatusOut(BaseModel):
    """One element, its statuses and its latest changes (``dirac-core status show --json``)."""

    element: ElementOut
    statuses: list[StatusOut]
    history: list[HistoryOut]


class StatusChange(BaseModel):
    """A manual status: every status type of the element unless ``status_type``; it holds until
    ``until`` (a time with its zone) or for ``seconds``, by default the configured
    ``token_lifetime``."""

    model_config = ConfigDict(extra="forbid")

    status: ResourceStatus
    reason: str = Field(max_length=512, pattern=_NO_NUL)
    status_type: StatusType | None = None
    element_type: ElementType | None = None
    until: datetime | None = None
    seconds: float | None = Field(default=None, gt=0, le=MAX_SECONDS, allow_inf_nan=False)
    vo: Vo = ALL


def _element(iw: Interware, name: str, element_type: ElementType | None) -> Element:
    """The element ``name``: ``NotFound`` (404) for none, 400 naming ``element_type`` for a name
    several element types share."""
    try:
        return iw.status.elements.get(name, element_type)
    except NotFound:
        raise
    except DiracError as exc:
        raise BadRequest(str(exc), parameter="element_type", element=name) from None


def _check_status_type(element: Element, status_type: StatusType | None) -> None:
    """Refuse a status type the element does not have (400 naming ``status_type``), in the
    model's words."""
    if status_type is not None:
        try:
            element.key(status_type)
        except ValueError as exc:
            raise BadRequest(str(exc), parameter="status_type") from None


def _until(body: StatusChange) -> datetime | timedelta | None:
    """The expiry the engine takes (400 naming ``until`` for a naive time, or both given)."""
    if body.until is not None and body.seconds is not None:
        raise BadRequest("give until or seconds, not both", parameter="until")
    if body.seconds is not None:
        return timedelta(seconds=body.seconds)
    if body.until is None:
        return None
    try:
        return ensure_utc(body.until, name="until")
    except ValueError as exc:  # a naive time: the message names until
        raise BadRequest(str(exc), parameter="until") from None
    except OverflowError:  # 9999-12-31T23:00-05:00 is past the last UTC time
        raise BadRequest(f"until is out of range: {body.until.isoformat()}", parameter="until") from None


@router.get("", response_model=list[StatusOut])
def list_statuses(iw: Iw, identity: Caller, *, element_type: Kind = None,
                  name: Named = None,
                  status_type: Annotated[StatusType | None, Query()] = None,
                  status: Annotated[list[ResourceStatus] | None, Query(max_length=10)] = None,
                  ) -> list[dict[str, Any]]:
    """Every stored status, in key order (of one element type, element, status type, or statuses)."""
    records = iw.status.statuses(element_type=element_type, name=name)
    return [record_json(r) for r in records
            if (status_type is None or r.key.status_type == status_type)
            and (not status or r.status in status)]


@router.get("/history", response_model=list[HistoryOut])
def history(iw: Iw, identity: Caller, *, name: Named = None, element_type: Kind = None,
            limit: Annotated[int, Query(ge=1, le=MAX_HISTORY)] = 100) -> list[dict[str, Any]]:
    """The latest ``limit`` status changes (of one element, or element type), oldest first; 404 for
    an element the configuration does not have."""
    if name is not None:
        element_type = _element(iw, name, element_type).element_type
    return [entry_json(e) for e in iw.status.history(name, element_type=element_type, limit=limit)]


@router.get("/{name:path}", response_model=ElementStatusOut)
def show(iw: Iw, identity: Caller, name: Name, *, element_type: Kind = None,
         limit: Annotated[int, Query(ge=0, le=MAX_HISTORY)] = 10) -> dict[str, Any]:
    """One element of the configuration (404 otherwise), its statuses and its latest ``limit``
    changes."""
    element = _element(iw, name, element_type)
    records = iw.status.statuses(element_type=element.element_type, name=element.name)
    entries = (iw.status.history(element.name, element_type=element.element_type, limit=limit)
               if limit else [])
    return {"element": element_json(element), "statuses": [record_json(r) for r in records],
            "history": [entry_json(e) for e in entries]}


@router.post("/{name:path}", response_model=list[StatusOut])
def set_status(iw: Iw, identity: Caller, name: Name, body: StatusChange) -> list[dict[str, Any]]:
    """Set an element's status by hand, owned by the caller; the records set (403 without
    ``status.change``)."""
    require(identity, Action.STATUS_CHANGE)
    element = _element(iw, name, body.element_type)
    _check_status_type(element, body.status_type)
    until = _until(body)
    try:
        records = iw.status.set_status(element.name, body.status, reason=body.reason, owner=identity.user,
                                       status_type=body.status_type, until=until,
                                       element_type=element.element_type, vo=body.vo)
    except ValueError as exc:  # the expiry is not in the future (the status type was checked above)
        raise BadRequest(str(exc), parameter="seconds" if body.seconds is not None else "until") from None
    return [record_json(r) for r in records]


@router.delete("/{name:path}", response_model=list[KeyOut])
def release(iw: Iw, identity: Caller, name: Name, *, element_type: Kind = None,
            status_type: Annotated[StatusType | None, Query()] = None,
            vo: Annotated[str, Query(min_length=1, max_length=64, pattern=_NO_NUL)] = ALL,
            ) -> list[dict[str, Any]]:
    """Hand an element's manual statuses back to the policies now; the keys released (none when
    the policies held them already; 403 without ``status.change``)."""
    require(identity, Action.STATUS_CHANGE)
    element = _element(iw, name, element_type)
    _check_status_type(element, status_type)
    keys = iw.status.release(element.name, status_type=status_type, element_type=element.element_type,
                             vo=vo, by=identity.user)
    return [key_json(k) for k in keys]

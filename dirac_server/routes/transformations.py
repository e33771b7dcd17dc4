"""``/api/transformations``: the transformation system over HTTP. Our own routes: DiracX has none.

=====================================================  ==============================================
route                                                  engine call (body, answer)
=====================================================  ==============================================
``POST /api/transformations``                          ``create`` (a spec; 201 and the record)
``GET /api/transformations?status=&type=``             ``transformations`` (the caller's VO's records)
``GET /api/transformations/{key}``                     ``get`` (by id, or by name)
``GET /api/transformations/{key}/files?status=&page=``  ``files`` (one page, in the order added)
``GET /api/transformations/{key}/tasks?status=&page=``  ``tasks`` (one page, in id order)
``GET /api/transformations/{key}/stats``               ``stats``
``POST /api/transformations/{key}/files``              ``add_files`` (``[lfn, ...]``; bulk result)
``PATCH /api/transformations/{key}/files?force=``      ``set_file_status`` (``{lfn: status}``; bulk)
``POST /api/transformations/{key}/{action}``           ``start``, ``stop``, ``flush``, ``complete``,
                                                       ``clean`` (the record afterwards)
=====================================================  ==============================================

``key`` is an id when it is all digits, else a name (a name holding ``/`` is reached by its id).
Who may do what is :mod:`dirac_core.authorization` (``transformation.*``): reading needs the
author's VO (anyone else gets 404, as for a transformation that does not exist), creating also
``ProductionManagement``, changing ``ProductionManagement`` or ``ServiceAdministrator`` (403).
Errors carry their type and fields (:class:`~dirac_server.typed_errors.TypedErrorRoute`): a
refused spec is a 400 whose ``error.fields.parameter`` names the key at fault; a status change
the table refuses is 409.
Bulk answers are ``{"ok": {lfn: value}, "failed": {lfn: error}}``. At most :data:`MAX_FILES`
LFNs per call; pages of at most :data:`MAX_FILES` files or :data:`MAX_TASKS` tasks.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from dirac_core.authorization import Action as PolicyAction
from dirac_core.authorization import allowed, filter_allowed, require
from dirac_core.dms.catalog_wire import bulk_json
from dirac_core.errors import InvalidTransformation, NotFound, PermissionDenied
from dirac_core.interware import Interware
from dirac_core.model.identity import Identity
from dirac_core.model.transformation import TaskStatus, TransformationFileStatus, TransformationStatus
from dirac_core.transformation.records import Transformation
from dirac_core.transformation.wire import encode, spec_from_json
from dirac_server.deps import Caller, Iw
from dirac_server.limits import MAX_PAGE
from dirac_server.typed_errors import TypedErrorRoute

__all__ = ["MAX_FILES", "MAX_TASKS", "Action", "key_of", "router"]

router = APIRouter(prefix="/api/transformations", tags=["transformations"], route_class=TypedErrorRoute)

#: LFNs per add-files or set-file-status call, and files per page
MAX_FILES = 10_000
#: tasks per page (each with its LFNs)
MAX_TASKS = 1_000


class Action(StrEnum):
    """The status changes a manager asks for, by the engine method's name."""

    START = "start"
    STOP = "stop"
    FLUSH = "flush"
    COMPLETE = "complete"
    CLEAN = "clean"


def key_of(text: str) -> int | str:
    """An id when ``text`` is all (ASCII) digits and fits a database id, else a name."""
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else text


def _visible(iw: Interware, identity: Identity, key: str,
             action: PolicyAction = PolicyAction.TRANSFORMATION_READ) -> Transformation:
    """The transformation ``key`` if ``identity`` may do ``action`` to it; else ``NotFound`` (as if
    absent) when the caller may not see it, ``PermissionDenied`` when it may see it only."""
    wanted = key_of(key)
    found = iw.transformations.get(wanted)
    decision = allowed(identity, action, found)
    if not decision.visible:
        raise NotFound(f"transformation {wanted!r} does not exist", transformation=wanted)
    if not decision:
        raise PermissionDenied(f"{decision.reason} (transformation {found.transformation_id})",
                               user=identity.user, group=identity.group)
    return found


def _changeable(iw: Interware, identity: Identity, key: str) -> Transformation:
    """The transformation ``key`` if ``identity`` may change it; ``NotFound`` or ``PermissionDenied``."""
    return _visible(iw, identity, key, PolicyAction.TRANSFORMATION_CHANGE)


def _at_most(items: Any, name: str) -> None:
    if len(items) > MAX_FILES:
        raise InvalidTransformation(f"at most {MAX_FILES} LFNs per call, got {len(items)}", parameter=name)


@router.post("", status_code=201)
def create_transformation(iw: Iw, identity: Caller, body: Annotated[Any, Body()]) -> dict[str, Any]:
    """Create a transformation (New) owned by the caller from a spec; 201 and the record."""
    require(identity, PolicyAction.TRANSFORMATION_CREATE)
    made: dict[str, Any] = encode(iw.transformations.create(spec_from_json(body), identity))
    return made


@router.get("")
def list_transformations(iw: Iw, identity: Caller, *,
                         status: Annotated[list[TransformationStatus] | None, Query()] = None,
                         type: Annotated[list[str] | None, Query()] = None) -> list[Any]:
    """The transformations of the caller's VO, in id order, optionally of some statuses and types."""
    found = iw.transformations.transformations(statuses=status or None, types=type or None)
    return [encode(t) for t in filter_allowed(identity, PolicyAction.TRANSFORMATION_READ, found)]


@router.get("/{key}")
def get_transformation(iw: Iw, identity: Caller, key: str) -> dict[str, Any]:
    """One transformation, by id or name."""
    found: dict[str, Any] = encode(_visible(iw, identity, key))
    return found


@router.get("/{key}/files")
def list_files(iw: Iw, identity: Caller, key: str, *,
               status: Annotated[list[TransformationFileStatus] | None, Query()] = None,
               page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
               per_page: Annotated[int, Query(ge=1, le=MAX_FILES)] = 1000) -> list[Any]:
    """One page of a transformation's files, in the order they were added."""
    tid = _visible(iw, identity, key).transformation_id
    return [encode(f) for f in iw.transformations.files(tid, statuses=status or None,
                                                        offset=(page - 1) * per_page, limit=per_page)]


@router.get("/{key}/tasks")
def list_tasks(iw: Iw, identity: Caller, key: str, *,
               status: Annotated[list[TaskStatus] | None, Query()] = None,
               page: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1,
               per_page: Annotated[int, Query(ge=1, le=MAX_TASKS)] = 100) -> list[Any]:
    """One page of a transformation's tasks with their files, in id order."""
    tid = _visible(iw, identity, key).transformation_id
    return [encode(t) for t in iw.transformations.tasks(tid, statuses=status or None,
                                                        offset=(page - 1) * per_page, limit=per_page)]


@router.get("/{key}/stats")
def get_stats(iw: Iw, identity: Caller, key: str) -> dict[str, Any]:
    """Files and tasks per status, and the processed percentage."""
    stats: dict[str, Any] = encode(iw.transformations.stats(_visible(iw, identity, key).transformation_id))
    return stats


@router.post("/{key}/files")
def add_files(iw: Iw, identity: Caller, key: str, lfns: Annotated[list[Any], Body()]) -> dict[str, Any]:
    """Attach files (Unused); per LFN ``Added`` or ``Present``, or why it failed."""
    _at_most(lfns, "lfns")
    tid = _changeable(iw, identity, key).transformation_id
    return bulk_json(iw.transformations.add_files(tid, lfns), str)


@router.patch("/{key}/files")
def set_file_status(iw: Iw, identity: Caller, key: str, statuses: Annotated[dict[str, str], Body()], *,
                    force: bool = False) -> dict[str, Any]:
    """Ask for file statuses (``{lfn: status}``), by the file rules unless ``force``; per LFN the
    status the file has afterwards."""
    _at_most(statuses, "statuses")
    tid = _changeable(iw, identity, key).transformation_id
    return bulk_json(iw.transformations.set_file_status(tid, statuses, force=force), str)


@router.post("/{key}/{action}")
def change_status(iw: Iw, identity: Caller, key: str, action: Action) -> dict[str, Any]:
    """Start, stop, flush, complete or clean a transformation; the record afterwards (409 when the
    status table refuses the change)."""
    tid = _changeable(iw, identity, key).transformation_id
    done: dict[str, Any] = encode(getattr(iw.transformations, action.value)(tid))
    return done

"""``/api/productions``: productions over HTTP. Our own routes: DiracX has none.

=============================================  ==================================================
route                                          engine call (body, answer)
=============================================  ==================================================
``POST /api/productions``                      ``create`` (``{"name", "description", "steps"}``;
                                               201 and the record)
``GET /api/productions``                       ``productions`` (the caller's VO's, in id order)
``GET /api/productions/{key}``                 ``get`` (by id, or by name)
``GET /api/productions/{key}/progress``        ``progress`` (each step's and the whole's)
``POST /api/productions/{key}/{action}``       ``start``, ``stop``, ``flush``, ``complete``, ``clean``
                                               (the record afterwards)
=============================================  ==================================================

The rules are :mod:`dirac_core.authorization`'s (``production.*``), the transformations' ones:
the author's VO reads, ``ProductionManagement`` of that VO creates, ``ProductionManagement`` or
``ServiceAdministrator`` changes; the engine applies the same policy, and the first start, which
creates the production's transformations, needs ``ProductionManagement``. A production has at
most :data:`MAX_STEPS` steps.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from dirac_core.authorization import Action as PolicyAction
from dirac_core.authorization import allowed, filter_allowed, require
from dirac_core.errors import InvalidTransformation, NotFound
from dirac_core.interware import Interware
from dirac_core.model.identity import Identity
from dirac_core.transformation.productions import Production
from dirac_core.transformation.wire import definition_from_json, encode
from dirac_server.deps import Caller, Iw
from dirac_server.routes.transformations import Action, key_of
from dirac_server.typed_errors import TypedErrorRoute

__all__ = ["MAX_STEPS", "router"]

router = APIRouter(prefix="/api/productions", tags=["productions"], route_class=TypedErrorRoute)

#: steps per production
MAX_STEPS = 100


def _visible(iw: Interware, identity: Identity, key: str) -> Production:
    """The production ``key`` if ``identity`` may see it; else ``NotFound``, as if absent."""
    wanted = key_of(key)
    found = iw.productions.get(wanted)
    if not allowed(identity, PolicyAction.PRODUCTION_READ, found):
        raise NotFound(f"production {wanted!r} does not exist", production=wanted)
    return found


@router.post("", status_code=201)
def create_production(iw: Iw, identity: Caller, body: Annotated[Any, Body()]) -> dict[str, Any]:
    """Create a production (New) from its name, description and steps; 201 and the record."""
    require(identity, PolicyAction.PRODUCTION_CREATE)
    definition = definition_from_json(body)
    if len(definition.steps) > MAX_STEPS:
        raise InvalidTransformation(f"at most {MAX_STEPS} steps per production, got {len(definition.steps)}",
                                    parameter="steps")
    made = iw.productions.create(definition.name, definition.steps, identity,
                                 description=definition.description)
    out: dict[str, Any] = encode(made)
    return out


@router.get("")
def list_productions(iw: Iw, identity: Caller) -> list[Any]:
    """The productions of the caller's VO, in id order."""
    found = iw.productions.productions()
    return [encode(p) for p in filter_allowed(identity, PolicyAction.PRODUCTION_READ, found)]


@router.get("/{key}")
def get_production(iw: Iw, identity: Caller, key: str) -> dict[str, Any]:
    """One production, by id or name."""
    found: dict[str, Any] = encode(_visible(iw, identity, key))
    return found


@router.get("/{key}/progress")
def get_progress(iw: Iw, identity: Caller, key: str) -> dict[str, Any]:
    """Each step's files and tasks by status, and the production's processed percentage."""
    progress: dict[str, Any] = encode(iw.productions.progress(_visible(iw, identity, key).production_id))
    return progress


@router.post("/{key}/{action}")
def change_status(iw: Iw, identity: Caller, key: str, action: Action) -> dict[str, Any]:
    """Start, stop, flush, complete or clean a production (all its transformations); the record
    afterwards (409 when the status table refuses the change). The engine decides who may
    (``production.change``: 403 without the property)."""
    production = _visible(iw, identity, key)
    done: dict[str, Any] = encode(getattr(iw.productions, action.value)(production.production_id, identity))
    return done

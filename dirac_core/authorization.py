"""Who may do what to which object: the interware's one authorization policy.

Every engine and every server route asks :func:`allowed` (or :func:`require`, or a search helper
below) instead of testing properties itself, so that the rules live in one table that one test
reads (``tests/test_authorization.py``) and one page documents (``docs/authorization.md``).

It is a small layer of its own, above ``config`` and ``model`` and below the engines: pure
functions of an :class:`~dirac_core.model.identity.Identity`, an :class:`Action` and the object
acted on (a job row, a request, a transformation, an LFN, ...), with no I/O. The caller looks up
what the policy needs (the job's row, the jobs a pilot holds) and passes it in.

The rules, in short (every object rule is within the identity's VO; see the docs page for the
whole table):

- **jobs**: the owner; a sharing group (``job_sharing`` or ``JobSharing``) its group's jobs;
  ``JobAdministrator`` every job; ``JobMonitor`` reads every job; ``GenericPilot`` matches and
  updates (a pilot's own token only the jobs that pilot holds). Submitting needs ``NormalUser``
  (or ``ProductionManagement``: a production's jobs are submitted as its author), as in DIRAC's
  ``JobPolicy``, where even ``JobAdministrator`` does not submit; ``force`` needs ``JobAdministrator``.
- **pilots**: ``GenericPilot`` or ``ServiceAdministrator`` register and report (a pilot's own token
  on itself only); ``ServiceAdministrator``, ``JobAdministrator`` or ``Operator`` read.
- **sandboxes**: anyone uploads; using one follows the rules of reading a job of the same owner.
- **requests**: anyone stores its own (attached only to its own job); the owner reads and cancels,
  ``ServiceAdministrator`` and ``JobAdministrator`` every request.
- **transformations, productions**: anyone of the VO reads; creating needs ``ProductionManagement``
  (the author's identity later submits the jobs); changing needs ``ProductionManagement`` or
  ``ServiceAdministrator``.
- **catalog**: directory modes and ACLs are the catalog's policy; this one says who bypasses them:
  ``FileCatalogManagement`` administers the catalog (metadata fields) and every entry under
  ``/<its VO>``.
- **configuration**: anyone reads it without secrets; ``CSAdministrator`` reads the secrets.
- **server**: ``ServiceAdministrator`` administers the server.
- **resource statuses**: anyone reads them; ``ServiceAdministrator`` or ``Operator`` sets them.

A :class:`Decision` also says whether a refusal may tell that the object exists
(:attr:`Decision.visible`): a job, request, transformation or pilot the caller may not see is
answered exactly like one that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from enum import StrEnum
from typing import Any, Protocol, TypeVar

import attrs

from dirac_core.config.registry import Property, Registry
from dirac_core.errors import PermissionDenied
from dirac_core.model.identity import Identity

__all__ = ["Action", "Decision", "InVO", "MatchScope", "Owned", "PilotRef", "allowed", "catalog_administers",
           "filter_allowed", "job_search_restrictions", "match_scope", "request_search_scope", "require"]

T = TypeVar("T")


class Action(StrEnum):
    """What is done; the object each action takes is named in brackets."""

    JOB_SUBMIT = "job.submit"  # -
    JOB_READ = "job.read"  # [job] status, history, JDL, parameters, sandboxes, search
    JOB_MANAGE = "job.manage"  # [job] kill, delete, reschedule, forget its sandboxes
    JOB_UPDATE = "job.update"  # [job] status, heartbeat, parameters, output sandbox: what a job reports
    JOB_FORCE = "job.force"  # - a status outside the state machine (with job.update on each job)
    JOB_MATCH = "job.match"  # - ask the matcher for a job
    JOB_ACT_FOR = "job.act_for"  # [job or job id] a pilot acting as the owner of a job it holds
    PILOT_REGISTER = "pilot.register"  # [pilot, optional]
    PILOT_REPORT = "pilot.report"  # [pilot, optional]
    PILOT_READ = "pilot.read"  # [pilot, optional]
    SANDBOX_WRITE = "sandbox.write"  # - upload
    SANDBOX_READ = "sandbox.read"  # [sandbox row] download it, name it in a job
    REQUEST_SUBMIT = "request.submit"  # [the job it is attached to, optional]
    REQUEST_READ = "request.read"  # [request]
    REQUEST_CANCEL = "request.cancel"  # [request]
    TRANSFORMATION_READ = "transformation.read"  # [transformation]
    TRANSFORMATION_CREATE = "transformation.create"  # -
    TRANSFORMATION_CHANGE = "transformation.change"  # [transformation] status, files
    PRODUCTION_READ = "production.read"  # [production]
    PRODUCTION_CREATE = "production.create"  # -
    PRODUCTION_CHANGE = "production.change"  # [production] status
    CATALOG_READ = "catalog.read"  # [LFN, optional]
    CATALOG_WRITE = "catalog.write"  # [LFN, optional]
    CATALOG_ADMIN = "catalog.admin"  # [LFN; none: the whole catalog (metadata fields, usage)]
    CONFIG_READ = "config.read"  # -
    CONFIG_READ_SECRETS = "config.read_secrets"  # -
    SERVER_ADMIN = "server.admin"  # -
    STATUS_CHANGE = "status.change"  # - set or release the status of a site, CE, queue or SE


@attrs.frozen
class Decision:
    """The answer: ``allowed``, why (a sentence naming the rule or what is missing), and whether
    a refusal may say that the object exists (``visible``; False: answer as if it did not)."""

    allowed: bool
    reason: str
    visible: bool = True

    def __bool__(self) -> bool:
        return self.allowed


@attrs.frozen(kw_only=True)
class Owned:
    """A job, a sandbox or a request as the policy sees it: its VO, owner, owner's group, job id."""

    vo: str
    owner: str
    group: str | None = None
    job_id: int | None = None

    @classmethod
    def of(cls, item: Any) -> Owned:
        """From a ``wms_jobs`` or sandbox row (``vo``, ``owner``, ``owner_group``, ``job_id``) or an
        object with those attributes (a request or its summary)."""
        if isinstance(item, Owned):
            return item
        if isinstance(item, Mapping):
            return cls(vo=item["vo"], owner=item["owner"], group=item.get("owner_group"),
                       job_id=item.get("job_id"))
        return cls(vo=item.vo, owner=item.owner, group=getattr(item, "owner_group", None),
                   job_id=getattr(item, "job_id", None))


@attrs.frozen(kw_only=True)
class PilotRef:
    """A pilot: its VO and stamp (None: pilots to register, not named yet)."""

    vo: str
    stamp: str | None = None


class InVO(Protocol):
    """A transformation or a production: the VO of its author."""

    @property
    def vo(self) -> str:
        """The author's VO."""


@attrs.frozen
class _Context:
    registry: Registry | None
    held: Collection[int] | None


def _who(identity: Identity) -> str:
    return f"{identity.user}@{identity.group}"


def _needs(identity: Identity, properties: tuple[str, ...], what: str) -> Decision:
    held = [p for p in properties if identity.has(p)]
    if held:
        return Decision(True, f"{held[0]} may {what}")
    return Decision(False, f"{_who(identity)} may not {what} (needs {' or '.join(properties)})")


def _required(obj: T | None, action: Action) -> T:
    if obj is None:
        raise TypeError(f"{action} is decided on an object: pass it")
    return obj


def _shares(identity: Identity, registry: Registry | None) -> bool:
    group = registry.groups.get(identity.group) if registry is not None else None
    return identity.has(Property.JOB_SHARING) or bool(group and group.job_sharing)


# --- jobs and sandboxes --------------------------------------------------------------------

#: the job actions decided by a property alone: who holds one of these, and what it may do
_JOB_PROPERTIES: Mapping[Action, tuple[tuple[str, ...], str]] = {
    Action.JOB_SUBMIT: ((Property.NORMAL_USER, Property.PRODUCTION_MANAGEMENT), "submit jobs"),
    Action.JOB_MATCH: ((Property.GENERIC_PILOT, Property.JOB_ADMINISTRATOR), "match jobs"),
    Action.JOB_FORCE: ((Property.JOB_ADMINISTRATOR,), "force a job status"),
}


def _job_rule(identity: Identity, action: Action, obj: Any, ctx: _Context) -> Decision:
    if action in _JOB_PROPERTIES:
        return _needs(identity, *_JOB_PROPERTIES[action])
    if action is Action.JOB_ACT_FOR:
        job_id = obj if isinstance(obj, int) else Owned.of(_required(obj, action)).job_id
        return _act_for(identity, job_id, ctx)
    job = Owned.of(_required(obj, action))
    decision = _job_access(identity, action, job, ctx)
    if decision.allowed or decision.visible or action is Action.JOB_READ:
        return decision
    # a refusal never hides a job the caller may read (a JobMonitor killing a job: 403, not 404)
    if not _job_access(identity, Action.JOB_READ, job, ctx).allowed:
        return decision
    return Decision(False, f"{_who(identity)} may only read job {job.job_id} ({action} needs its owner, "
                           "its group when shared, or JobAdministrator)")


def _act_for(identity: Identity, job_id: int | None, ctx: _Context) -> Decision:
    if identity.pilot_stamp is None:
        return Decision(False, "only a pilot may act for a job")
    if ctx.held is None or job_id not in ctx.held:
        return Decision(False, f"job {job_id} is not a job of pilot {identity.pilot_stamp}")
    return Decision(True, f"pilot {identity.pilot_stamp} holds job {job_id}")


def _job_access(identity: Identity, action: Action, job: Owned, ctx: _Context, name: str | None = None
                ) -> Decision:
    name = name or (f"job {job.job_id}" if job.job_id is not None else "the job")
    if job.vo != identity.vo:
        return Decision(False, f"{name} belongs to VO {job.vo!r}", visible=False)
    if identity.has(Property.JOB_ADMINISTRATOR):
        return Decision(True, "JobAdministrator acts on every job of its VO")
    if action is Action.JOB_UPDATE and identity.has(Property.GENERIC_PILOT):
        return _pilot_update(identity, job, ctx, name)
    if action is Action.JOB_READ and identity.has(Property.JOB_MONITOR):
        return Decision(True, "JobMonitor reads every job of its VO")
    return _owner_or_group(identity, job, ctx, name)


def _pilot_update(identity: Identity, job: Owned, ctx: _Context, name: str) -> Decision:
    stamp = identity.pilot_stamp
    if stamp is None:
        return Decision(True, "GenericPilot updates the jobs of its VO")
    if ctx.held is not None and job.job_id in ctx.held:
        return Decision(True, f"pilot {stamp} holds {name}")
    # visible: a pilot serves its whole VO, and is told why rather than misled
    return Decision(False, f"{name} is not held by pilot {stamp}")


def _owner_or_group(identity: Identity, job: Owned, ctx: _Context, name: str) -> Decision:
    if _shares(identity, ctx.registry):
        if job.group == identity.group:
            return Decision(True, f"group {identity.group} shares its jobs")
        return Decision(False, f"{name} is not of group {identity.group}", visible=False)
    if job.owner == identity.user:
        return Decision(True, f"{identity.user} owns {name}")
    return Decision(False, f"{name} is not {identity.user}'s", visible=False)


def _sandbox_rule(identity: Identity, action: Action, obj: Any, ctx: _Context) -> Decision:
    if action is Action.SANDBOX_WRITE:
        return Decision(True, "anyone uploads a sandbox (using it is sandbox.read)")
    # the rules of reading a job of the same owner and group
    return _job_access(identity, Action.JOB_READ, Owned.of(_required(obj, action)), ctx, "the sandbox")


# --- pilots --------------------------------------------------------------------------------

_PILOT_MANAGERS = (Property.GENERIC_PILOT, Property.SERVICE_ADMINISTRATOR)
_PILOT_READERS = (Property.SERVICE_ADMINISTRATOR, Property.JOB_ADMINISTRATOR, Property.OPERATOR)


def _pilot_rule(identity: Identity, action: Action, obj: Any, ctx: _Context) -> Decision:
    if action is Action.PILOT_READ:
        decision = _needs(identity, _PILOT_READERS, "read pilots")
    else:
        verb = "register pilots" if action is Action.PILOT_REGISTER else "report on pilots"
        decision = _needs(identity, _PILOT_MANAGERS, verb)
    if not decision.allowed or obj is None:
        return decision
    pilot: PilotRef = obj
    if pilot.vo != identity.vo:
        if action is Action.PILOT_REGISTER:
            return Decision(False, f"pilots of VO {pilot.vo!r} cannot be registered from VO {identity.vo!r}")
        return Decision(False, f"pilot {pilot.stamp} belongs to VO {pilot.vo!r}", visible=False)
    if action is Action.PILOT_REPORT and identity.pilot_stamp not in (None, pilot.stamp):
        return Decision(False, f"pilot {identity.pilot_stamp} reports on itself only", visible=False)
    return decision


# --- requests ------------------------------------------------------------------------------

_REQUEST_ADMINISTRATORS = (Property.SERVICE_ADMINISTRATOR, Property.JOB_ADMINISTRATOR)


def _request_submit(identity: Identity, job: Owned | None) -> Decision:
    if job is None:
        return Decision(True, "anyone stores requests, owned by itself")
    if (job.owner, job.vo) == (identity.user, identity.vo):
        return Decision(True, f"{identity.user} owns job {job.job_id}")
    return Decision(False, f"job {job.job_id} is not {identity.user}'s", visible=False)


def _request_rule(identity: Identity, action: Action, obj: Any, ctx: _Context) -> Decision:
    if action is Action.REQUEST_SUBMIT:
        return _request_submit(identity, None if obj is None else Owned.of(obj))
    request = Owned.of(_required(obj, action))
    if request.vo != identity.vo:
        return Decision(False, f"the request belongs to VO {request.vo!r}", visible=False)
    held = [p for p in _REQUEST_ADMINISTRATORS if identity.has(p)]
    if held:
        return Decision(True, f"{held[0]} sees every request of its VO")
    if request.owner == identity.user:
        return Decision(True, f"{identity.user} owns the request")
    return Decision(False, f"the request is not {identity.user}'s", visible=False)


# --- transformations and productions -------------------------------------------------------

_PRODUCTION_MANAGERS = (Property.PRODUCTION_MANAGEMENT, Property.SERVICE_ADMINISTRATOR)
_CREATE = (Action.TRANSFORMATION_CREATE, Action.PRODUCTION_CREATE)
_READ = (Action.TRANSFORMATION_READ, Action.PRODUCTION_READ)


def _production_rule(identity: Identity, action: Action, obj: Any, ctx: _Context) -> Decision:
    kind = action.value.partition(".")[0]
    if action in _CREATE:
        # the author's identity submits the jobs and requests later: it must be able to
        return _needs(identity, (Property.PRODUCTION_MANAGEMENT,), f"create {kind}s")
    item: InVO = _required(obj, action)
    if item.vo != identity.vo:
        return Decision(False, f"the {kind} belongs to VO {item.vo!r}", visible=False)
    if action in _READ:
        return Decision(True, f"anyone of VO {identity.vo} reads its {kind}s")
    return _needs(identity, _PRODUCTION_MANAGERS, f"change {kind}s")


# --- catalog -------------------------------------------------------------------------------


def _in_vo(path: str, vo: str) -> bool:
    """Whether the (canonical) LFN ``path`` is in the namespace of ``vo`` (``/vo`` and below)."""
    return path == f"/{vo}" or path.startswith(f"/{vo}/")


def _catalog_rule(identity: Identity, action: Action, obj: Any, ctx: _Context) -> Decision:
    path: str | None = obj
    manager = identity.has(Property.FILE_CATALOG_MANAGEMENT)
    if action is Action.CATALOG_ADMIN:
        if not manager:
            return Decision(False, f"{_who(identity)} may not administer the catalog "
                                   "(needs FileCatalogManagement)")
        if path is None:
            return Decision(True, "FileCatalogManagement administers the catalog (metadata fields, usage)")
        if _in_vo(path, identity.vo):
            return Decision(True, f"FileCatalogManagement administers every entry under /{identity.vo}")
        return Decision(False, f"FileCatalogManagement of VO {identity.vo} administers /{identity.vo} "
                               f"only, not {path!r}")
    if manager and path is not None and _in_vo(path, identity.vo):
        return Decision(True, f"FileCatalogManagement: directory modes do not apply under /{identity.vo}")
    return Decision(True, "the catalog's directory modes and ACLs decide")


# --- configuration and server --------------------------------------------------------------


def _config_rule(identity: Identity, action: Action, obj: Any, ctx: _Context) -> Decision:
    if action is Action.CONFIG_READ:
        return Decision(True, "anyone reads the configuration without its secrets")
    if action is Action.CONFIG_READ_SECRETS:
        return _needs(identity, (Property.CS_ADMINISTRATOR,), "read the configuration's secrets")
    return _needs(identity, (Property.SERVICE_ADMINISTRATOR,), "administer the server")


def _status_rule(identity: Identity, action: Action, obj: Any, ctx: _Context) -> Decision:
    return _needs(identity, (Property.SERVICE_ADMINISTRATOR, Property.OPERATOR), "change resource statuses")


_Rule = Callable[[Identity, Action, Any, _Context], Decision]

#: the rule deciding each action
_RULES: Mapping[Action, _Rule] = {
    **dict.fromkeys([a for a in Action if a.value.startswith("job.")], _job_rule),
    **dict.fromkeys([a for a in Action if a.value.startswith("pilot.")], _pilot_rule),
    **dict.fromkeys([a for a in Action if a.value.startswith("sandbox.")], _sandbox_rule),
    **dict.fromkeys([a for a in Action if a.value.startswith("request.")], _request_rule),
    **dict.fromkeys([a for a in Action if a.value.startswith(("transformation.", "production."))],
                    _production_rule),
    **dict.fromkeys([a for a in Action if a.value.startswith("catalog.")], _catalog_rule),
    **dict.fromkeys([a for a in Action if a.value.startswith(("config.", "server."))], _config_rule),
    Action.STATUS_CHANGE: _status_rule,
}


def allowed(identity: Identity, action: Action, obj: Any = None, *, registry: Registry | None = None,
            held: Collection[int] | None = None) -> Decision:
    """May ``identity`` do ``action`` to ``obj``?

    ``obj`` is what :class:`Action` names for the action: a job or sandbox row (or
    :class:`Owned`), a request, a transformation or production (anything with ``vo``), a
    :class:`PilotRef`, an LFN. ``registry`` tells which groups share their jobs (without it only
    the ``JobSharing`` property does); ``held`` are the jobs the calling pilot holds, looked up by
    the caller for a pilot's own token (without it such a token updates nothing). Raises
    ``TypeError`` when an action that needs an object gets none.
    """
    return _RULES[action](identity, action, obj, _Context(registry, held))


def require(identity: Identity, action: Action, obj: Any = None, *, registry: Registry | None = None,
            held: Collection[int] | None = None) -> Decision:
    """The decision of :func:`allowed`; raises ``PermissionDenied`` (with the reason) when it refuses."""
    decision = allowed(identity, action, obj, registry=registry, held=held)
    if not decision.allowed:
        raise PermissionDenied(decision.reason, user=identity.user, group=identity.group, action=str(action))
    return decision


def filter_allowed(identity: Identity, action: Action, items: Iterable[T], *,
                   registry: Registry | None = None, held: Collection[int] | None = None) -> list[T]:
    """The ``items`` on which ``identity`` may do ``action`` (a listing's visible part), in order."""
    return [item for item in items if allowed(identity, action, item, registry=registry, held=held).allowed]


def catalog_administers(identity: Identity, path: str | None = None) -> bool:
    """Whether ``identity`` bypasses the catalog's modes and ACLs on ``path`` (None: catalog-wide)."""
    return allowed(identity, Action.CATALOG_ADMIN, path).allowed


def job_search_restrictions(identity: Identity, registry: Registry | None
                            ) -> tuple[list[dict[str, Any]], str | None]:
    """The filters a job search or summary by ``identity`` gets, and the one owner it is limited to
    (None: any owner). What a search shows is exactly what ``job.read`` allows."""
    vo = [{"parameter": "VO", "operator": "eq", "value": identity.vo}]
    if identity.has(Property.JOB_ADMINISTRATOR) or identity.has(Property.JOB_MONITOR):
        return vo, None
    if _shares(identity, registry):
        return [*vo, {"parameter": "OwnerGroup", "operator": "eq", "value": identity.group}], None
    return vo, identity.user


def request_search_scope(identity: Identity) -> tuple[str | None, str]:
    """``(owner, vo)`` filters of a request listing (owner None: the whole VO), as ``request.read``."""
    if any(identity.has(p) for p in _REQUEST_ADMINISTRATORS):
        return None, identity.vo
    return identity.user, identity.vo


@attrs.frozen
class MatchScope:
    """Whose jobs the matcher may give ``identity``: owner groups, and one owner (None: any)."""

    groups: frozenset[str]
    owner: str | None
    #: a generic pilot: every group of the VO (a resource description may narrow it)
    whole_vo: bool


def match_scope(identity: Identity, registry: Registry) -> MatchScope:
    """DIRAC's credential rules: a ``GenericPilot`` serves every group of its VO; any other
    identity (a private pilot) its group's jobs when the group shares them, else its own."""
    if identity.has(Property.GENERIC_PILOT):
        groups = frozenset(name for name, g in registry.groups.items() if g.vo == identity.vo)
        return MatchScope(groups, None, whole_vo=True)
    owner = None if _shares(identity, registry) else identity.user
    return MatchScope(frozenset({identity.group}), owner, whole_vo=False)

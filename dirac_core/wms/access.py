"""Who may see and act on which jobs.

- ``JobAdministrator``: every job of its VO, and ``force``.
- ``GenericPilot``: may match, and update the jobs of its VO (a pilot token
  bound to one pilot may only update the jobs that pilot holds: the server
  passes ``held``).
- A group with ``job_sharing`` (or the ``JobSharing`` property): the jobs of
  the group (acting in it, a user's jobs of other groups are out of reach).
- Everyone else: their own jobs in their VO, whatever the group.

:func:`search_restrictions` and :func:`may` agree: what a search shows is
what may be read.

Not DiracX's default (any user lists every job): a job the caller may not
see is reported exactly as a job that does not exist.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from typing import Any

from dirac_core.config.registry import Property, Registry
from dirac_core.model.identity import Identity

__all__ = ["Action", "may", "search_restrictions"]


class Action(enum.StrEnum):
    """What is done to a job."""

    READ = "read"
    MANAGE = "manage"  # kill, delete, reschedule
    UPDATE = "update"  # status, heartbeat, parameters: what a running job reports


def _shares(identity: Identity, registry: Registry) -> bool:
    group = registry.groups.get(identity.group)
    return identity.has(Property.JOB_SHARING) or bool(group and group.job_sharing)


def search_restrictions(identity: Identity, registry: Registry
                        ) -> tuple[list[dict[str, Any]], str | None]:
    """The filters a search by ``identity`` gets, and the exact owner it is limited to (or None)."""
    vo = [{"parameter": "VO", "operator": "eq", "value": identity.vo}]
    if identity.has(Property.JOB_ADMINISTRATOR) or identity.has(Property.JOB_MONITOR):
        return vo, None
    if _shares(identity, registry):
        return [*vo, {"parameter": "OwnerGroup", "operator": "eq", "value": identity.group}], None
    return vo, identity.user


def may(identity: Identity, job: Mapping[str, Any], action: Action, registry: Registry, *,
        held: Collection[int] | None = None) -> bool:
    """True when ``identity`` may do ``action`` to ``job`` (a ``wms_jobs`` row)."""
    if job["vo"] != identity.vo:
        return False
    if identity.has(Property.JOB_ADMINISTRATOR):
        return True
    if identity.has(Property.GENERIC_PILOT) and action is Action.UPDATE:
        return held is None or job["job_id"] in held
    if action is Action.READ and identity.has(Property.JOB_MONITOR):
        return True
    if _shares(identity, registry):  # what a search in this group shows
        return bool(job["owner_group"] == identity.group)
    return bool(job["owner"] == identity.user)

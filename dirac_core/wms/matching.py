"""Which task queues a resource may take jobs from: pure functions, no database.

DIRAC's rules (reference wms.md section 3.5): an empty requirement set
matches anything; ``ANY`` on the resource side disables a constraint; every
tag of the queue must be offered; required tags must be in the queue; a
banned site never matches; a site outside the site mask only gets Test jobs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum

import attrs

from dirac_core.authorization import match_scope
from dirac_core.config.registry import Registry
from dirac_core.errors import DiracError, PermissionDenied
from dirac_core.model.identity import Identity
from dirac_core.wms.requirements import JobRequirements
from dirac_core.wms.resource import ResourceDescription, _is_any

__all__ = ["Gate", "OwnerFilter", "SiteGate", "owner_filter", "queue_matches", "tags_wanted"]

#: A negative condition: job attribute (JobType, Owner, OwnerGroup) -> values excluded.
Exclusions = Mapping[str, frozenset[str]]


class SiteGate(StrEnum):
    """What the resource status system lets through to a site, CE or queue (on top of the mask):
    everything, Test jobs only (Probing: like a site outside the mask), or nothing (Banned)."""

    OPEN = "open"
    TEST_ONLY = "test-only"
    CLOSED = "closed"


#: (site, CE or None, queue or None, VO) -> the gate; the resource status system's ``gate``
Gate = Callable[[str, str | None, str | None, str], SiteGate]


@attrs.frozen
class OwnerFilter:
    """Whose jobs a pilot may run: groups, and per group whether any owner will do."""

    groups: frozenset[str]
    shared: frozenset[str]  # groups whose jobs any member's pilot may run
    owner: str | None

    def allows(self, req: JobRequirements) -> bool:
        """True when the queue's owner and group are acceptable."""
        if req.owner_group not in self.groups:
            return False
        return self.owner is None or req.owner_group in self.shared or req.owner == self.owner


def owner_filter(identity: Identity, registry: Registry,
                 resource: ResourceDescription) -> OwnerFilter:
    """DIRAC's credential rules (:func:`dirac_core.authorization.match_scope`): generic pilots
    serve their whole VO (narrowed to the groups and owner the resource names), others only
    themselves (or their group, when it shares its jobs).

    Raises ``PermissionDenied`` when the resource asks for groups outside the identity's VO.
    """
    sharing = frozenset(name for name, g in registry.groups.items() if g.job_sharing)
    scope = match_scope(identity, registry)
    if not scope.whole_vo:
        return OwnerFilter(scope.groups, sharing, scope.owner)
    groups = scope.groups
    if resource.owner_groups and not _is_any(resource.owner_groups):
        outside = resource.owner_groups - groups
        if outside:
            raise PermissionDenied(f"groups {sorted(outside)} are not in VO {identity.vo!r}")
        groups = frozenset(resource.owner_groups)
    return OwnerFilter(groups, sharing, resource.owner)


def tags_wanted(resource: ResourceDescription) -> tuple[frozenset[str] | None, frozenset[str]]:
    """The offered tags (None: no constraint) and the required tags of a resource.

    Raises ``DiracError`` when a required tag is not offered (DIRAC's "Wrong conditions").
    """
    offered = resource.all_tags()
    if offered is not None and _is_any(offered):
        return None, frozenset()
    required: frozenset[str] = frozenset()
    if resource.tags is not None and resource.required_tags and not _is_any(resource.required_tags):
        required = resource.required_tags
        missing = required - (offered or frozenset())
        if missing:
            raise DiracError(f"required tags {sorted(missing)} are not among the offered tags",
                             field="RequiredTag")
    return offered or frozenset(), required


def queue_matches(req: JobRequirements, resource: ResourceDescription, owners: OwnerFilter, *,
                  in_mask: bool, offered: frozenset[str] | None,
                  required: frozenset[str]) -> bool:
    """True when the queue's jobs may run on the resource."""
    site = resource.site
    grid_ce = resource.grid_ce
    job_types = resource.job_types if in_mask else frozenset({"Test"})
    refused = (
        not owners.allows(req) or req.cpu_time > resource.cpu_time
        or bool(req.sites and site not in req.sites) or site in req.banned_sites
        or bool(grid_ce and req.grid_ces and grid_ce not in req.grid_ces
                and grid_ce.upper() != "ANY")
        or bool(resource.platforms and req.platforms and not _is_any(resource.platforms)
                and not (resource.platforms & req.platforms))
        or bool(job_types and req.job_types and not _is_any(job_types)
                and not (job_types & req.job_types))
        or (offered is not None and not req.tags <= offered)
    )
    return not refused and required <= req.tags


def excluded(req: JobRequirements, exclusions: Exclusions) -> bool:
    """True when a negative condition (running limit, matching delay) rules the queue out."""
    if not exclusions:
        return False
    if req.job_types & exclusions.get("JobType", frozenset()):
        return True
    if req.owner in exclusions.get("Owner", ()):
        return True
    return req.owner_group in exclusions.get("OwnerGroup", ())

"""The matcher: a pilot's resource description in, at most one job out, claimed atomically.

Queue selection happens in memory: the definitions of the non-empty task
queues are cached (:class:`QueueIndex`, refreshed every few seconds by one
caller, and when a pilot finds nothing), and the eligible queues of a
resource are computed once per distinct description. Among the eligible
queues one is drawn at random, weighted by its fair-share priority (a hook
may adjust the weights). Its best job (highest user priority, then oldest)
is claimed by deleting its ``wms_tq_jobs`` row: exactly one process can
delete it; ``FOR UPDATE SKIP LOCKED`` keeps concurrent matchers on MariaDB
and PostgreSQL from queueing behind each other. The claim, the Matched
status, its history record and the pilot-to-job mapping commit together.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import random
import threading
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, NamedTuple

import attrs
import pluggy
from sqlalchemy import Connection, func, select

from dirac_core.caching import SingleFlight
from dirac_core.config import Config
from dirac_core.db.database import Database
from dirac_core.db.tables.wms import task_queues, tq_jobs
from dirac_core.model.clock import Clock
from dirac_core.model.identity import Identity
from dirac_core.wms.claims import Claimer, ClaimQueue, ClaimRequest, claimer_for
from dirac_core.wms.limiter import Limiter
from dirac_core.wms.matching import (
    Gate,
    OwnerFilter,
    SiteGate,
    excluded,
    owner_filter,
    queue_matches,
    tags_wanted,
)
from dirac_core.wms.requirements import JobRequirements
from dirac_core.wms.resource import ResourceDescription

__all__ = ["MatchedJob", "Matcher", "QueueIndex", "Queues"]

log = logging.getLogger(__name__)

_MAX_ATTEMPTS = 8


@attrs.frozen(kw_only=True)
class MatchedJob:
    """The job handed to a pilot: id, JDL and whose it is."""

    job_id: int
    jdl: str
    owner: str
    owner_group: str
    vo: str
    task_queue: int


class Queues(dict[int, tuple[JobRequirements, float]]):
    """Queue id -> (definition, priority), as loaded at once.

    ``version`` changes only when a queue appears or a queue's definition
    changes, not with priorities or queues going away: what a resource may
    take from is worked out again only then (it costs a test of every queue
    for every distinct resource).
    """

    version = 0


class QueueIndex:
    """The definitions and priorities of the task queues that hold jobs, cached per process."""

    def __init__(self, database: Database, clock: Clock, *, ttl: timedelta) -> None:
        self._database = database
        self._cache: SingleFlight[Queues] = SingleFlight(self._load, ttl=ttl, clock=clock)
        self._empty: set[int] = set()
        self._lock = threading.Lock()
        self._last: Queues | None = None
        self.generation = 0

    def _load(self) -> Queues:
        has_jobs = select(tq_jobs.c.job_id).where(tq_jobs.c.tq_id == task_queues.c.tq_id).exists()
        with self._database.begin(read_only=True) as conn:
            rows = conn.execute(select(task_queues).where(has_jobs)).mappings().all()
        queues = Queues((row["tq_id"], (JobRequirements.from_row(row), float(row["priority"])))
                        for row in rows)
        last = self._last  # loads never overlap (SingleFlight)
        if last is None:
            queues.version = 1
        else:
            known = all(tq in last and last[tq][0] == req for tq, (req, _) in queues.items())
            queues.version = last.version if known else last.version + 1
        self._last = queues
        with self._lock:
            self._empty = set()
            self.generation += 1
        return queues

    def queues(self) -> Queues:
        """Queue id -> (definition, priority), refreshed when stale."""
        return self._cache.get()

    def is_empty(self, tq_id: int) -> bool:
        """True when a claim found the queue empty since the last refresh."""
        return tq_id in self._empty

    def mark_empty(self, tq_id: int) -> None:
        """Remember that the queue had no job to give."""
        with self._lock:
            self._empty.add(tq_id)

    def refresh(self) -> None:
        """Reload at the next read (one caller reloads; the others use the old index)."""
        self._cache.invalidate()


class _Plan(NamedTuple):
    """One resource's request, validated: what decides the queues it may take from."""

    resource: ResourceDescription
    owners: OwnerFilter
    offered: frozenset[str] | None
    required: frozenset[str]
    in_mask: bool
    key: tuple[Any, ...]
    closed: bool = False


class Matcher:
    """Matches pilots to waiting jobs; thread-safe; one per process (its caches are per process)."""

    def __init__(self, *, database: Database, config: Config, clock: Clock,
                 hooks: pluggy.PluginManager, rng: random.Random | None = None,
                 index_ttl: timedelta = timedelta(seconds=5)) -> None:
        self._database = database
        self._config = config
        self._clock = clock
        self.hooks = hooks
        self._rng = rng or random.Random()
        self.index = QueueIndex(database, clock, ttl=index_ttl)
        self._eligible: dict[tuple[Any, ...], tuple[int, list[int]]] = {}
        self._limiters: dict[str, Limiter] = {}
        self._lock = threading.Lock()
        self._skip_locked = database.supports_skip_locked
        self._claimer: Claimer | None = None  # chosen on the first claim, once connected
        #: the resource status system's verdict on a resource's site, CE and queue (None: all open);
        #: Probing narrows it to Test jobs as the mask does, Banned gives it nothing
        self.gate: Gate | None = None

    # -- public -----------------------------------------------------------

    def match(self, resource: ResourceDescription, identity: Identity) -> MatchedJob | None:
        """Claim one job for the resource, or return None when nothing is eligible.

        Raises ``PermissionDenied`` (groups outside the pilot's VO) or
        ``DiracError`` (required tags not offered).
        """
        return self.match_many([resource], identity)[0]

    def match_many(self, resources: Sequence[ResourceDescription],
                   identity: Identity) -> list[MatchedJob | None]:
        """Claim one job for each resource, all in one transaction (one commit).

        For a pilot filling several slots at once, or a server grouping
        concurrent pilots' requests: a commit is the dearest part of a claim on
        a server database, so several claims per commit multiply the rate.
        Each resource is validated first (the errors of :meth:`match`, before
        anything is claimed). Returns, in order, the job or None per resource.
        """
        plans = [self._plan(resource, identity) for resource in resources]
        limiter = self._limiter(identity.vo)
        now = self._clock.now()
        out: list[MatchedJob | None] = []
        claimer = self._claimer
        if claimer is None:
            with self._database.begin(read_only=True) as conn:
                claimer = self._claimer = claimer_for(conn, skip_locked=self._skip_locked)
        # one claim written by one statement commits by itself: no BEGIN, no COMMIT
        single = len(plans) == 1 and claimer.autocommit_single
        with self._database.autocommit() if single else self._database.begin() as conn:
            for plan in plans:
                resource = plan.resource
                where = resource.grid_ce or resource.site
                request = ClaimRequest(resource.site, f"Matcher@{where}"[:64],
                                       resource.pilot_stamp or "", now)
                out.append(self._match_one(conn, claimer, plan, request, limiter))
        return out

    def waiting_for(self, resources: Sequence[ResourceDescription], identity: Identity) -> list[int]:
        """How many waiting jobs each resource could be given now (the site director's count).

        One grouped count of the task queues' jobs, then the matching rules per
        resource; nothing is claimed. Jobs eligible for several resources are
        counted for each.
        """
        with self._database.begin(read_only=True) as conn:
            counts: dict[int, int] = dict(conn.execute(select(tq_jobs.c.tq_id, func.count())
                                       .group_by(tq_jobs.c.tq_id)).all())
        self.index.refresh()
        queues = self.index.queues()
        return [sum(counts.get(tq, 0) for tq in self._eligible_queues(self._plan(r, identity), queues))
                for r in resources]

    def _plan(self, resource: ResourceDescription, identity: Identity) -> _Plan:
        owners = owner_filter(identity, self._config.registry, resource)
        offered, required = tags_wanted(resource)
        in_mask = self._config.resources.is_allowed(resource.site)
        gate = (SiteGate.OPEN if self.gate is None
                else self.gate(resource.site, resource.grid_ce, resource.queue, identity.vo))
        in_mask = in_mask and gate is SiteGate.OPEN
        closed = gate is SiteGate.CLOSED
        return _Plan(resource, owners, offered, required, in_mask, (resource.key(), owners, in_mask, closed),
                     closed)

    def _match_one(self, conn: Connection, claimer: Claimer, plan: _Plan, request: ClaimRequest,
                   limiter: Limiter) -> MatchedJob | None:
        resource = plan.resource
        refreshed = False
        for _ in range(_MAX_ATTEMPTS):
            queues = self.index.queues()
            eligible = self._eligible_queues(plan, queues)
            exclusions = limiter.exclusions(resource.site)
            candidates = [tq for tq in eligible if not self.index.is_empty(tq)
                          and tq in queues and not excluded(queues[tq][0], exclusions)]
            if not candidates:
                if refreshed:
                    return None
                self.index.refresh()
                refreshed = True
                continue
            tq_id = self._choose(candidates, queues, resource)
            req = queues[tq_id][0]
            claimed = claimer.claim(conn, ClaimQueue(tq_id, req.vo, req.owner_group), request)
            if claimed is not None:
                limiter.matched(resource.site, req)
                return MatchedJob(job_id=claimed.job_id, jdl=claimed.jdl, owner=req.owner,
                                  owner_group=req.owner_group, vo=req.vo, task_queue=tq_id)
            self.index.mark_empty(tq_id)
        return None

    # -- selection ----------------------------------------------------------

    def _eligible_queues(self, plan: _Plan, queues: Queues) -> list[int]:
        if plan.closed:
            return []
        version = queues.version
        cached = self._eligible.get(plan.key)
        if cached is not None and cached[0] == version:
            return cached[1]
        found = [tq for tq, (req, _) in queues.items()
                 if queue_matches(req, plan.resource, plan.owners, in_mask=plan.in_mask,
                                  offered=plan.offered, required=plan.required)]
        with self._lock:
            if len(self._eligible) > 10_000:
                self._eligible.clear()
            self._eligible[plan.key] = (version, found)
        return found

    def _choose(self, candidates: Sequence[int], queues: dict[int, tuple[JobRequirements, float]],
                resource: ResourceDescription) -> int:
        if len(candidates) == 1:
            return candidates[0]
        weights = [queues[tq][1] for tq in candidates]
        if self.hooks.hook.dirac_match_priority.get_hookimpls():
            weights = [self._adjusted(queues[tq][0], resource, w)
                       for tq, w in zip(candidates, weights, strict=True)]
        cumulative = list(itertools.accumulate(max(w, 0.0) for w in weights))
        total = cumulative[-1]
        if total <= 0:
            return self._rng.choice(list(candidates))
        return candidates[bisect.bisect_right(cumulative, self._rng.random() * total)
                          if cumulative[-1] else 0]

    def _adjusted(self, req: JobRequirements, resource: ResourceDescription, weight: float) -> float:
        job = {"Owner": req.owner, "OwnerGroup": req.owner_group, "VO": req.vo,
               "CPUTime": req.cpu_time, "Sites": sorted(req.sites), "Tags": sorted(req.tags),
               "JobTypes": sorted(req.job_types)}
        answer = self.hooks.hook.dirac_match_priority(job=job, resource=attrs.asdict(resource),
                                                       priority=weight)
        return weight if answer is None else float(answer)

    def _limiter(self, vo: str) -> Limiter:
        with self._lock:
            limiter = self._limiters.get(vo)
            if limiter is None:
                ops = self._config.operations
                limiter = self._limiters[vo] = Limiter(self._database, lambda: ops.policy(vo),
                                                       self._clock)
            return limiter

"""Running limits and matching delays per site (DIRAC's Limiter), without a cache stampede.

``operations.running_limits[site][attribute][value] = N``: while N jobs with
that attribute value are Matched, Running or Stalled at the site, such jobs
are not matched there. ``matching_delays[site][attribute][value] = s``: after
a match of such a job at the site, the next waits ``s`` seconds. Attributes
are ``JobType``, ``Owner`` and ``OwnerGroup``.

Counts come from the database at most every ``ttl`` per site, refreshed by
one caller while the others use the previous counts (:class:`SingleFlight`);
matches made by this process in between are added locally, so a burst of
pilots cannot overshoot a limit by more than the other processes' matches.
Matching delays are per process, as in DIRAC.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import func, select

from dirac_core.caching import SingleFlight
from dirac_core.config.operations import VOPolicy
from dirac_core.db.database import Database
from dirac_core.db.tables.wms import jobs
from dirac_core.model.clock import Clock
from dirac_core.model.job import JobStatus
from dirac_core.wms.requirements import JobRequirements

__all__ = ["LIMIT_ATTRIBUTES", "Limiter"]

#: Job attributes a limit or delay may name, and their column.
LIMIT_ATTRIBUTES = {"JobType": jobs.c.job_type, "Owner": jobs.c.owner,
                    "OwnerGroup": jobs.c.owner_group}
_ACTIVE = (JobStatus.MATCHED, JobStatus.RUNNING, JobStatus.STALLED)
Counts = dict[str, dict[str, int]]  # attribute -> value -> active jobs


def _values(req: JobRequirements, attribute: str) -> frozenset[str]:
    if attribute == "JobType":
        return req.job_types
    return frozenset({req.owner if attribute == "Owner" else req.owner_group})


class Limiter:
    """Negative conditions for matching at a site, from one VO policy's limits and delays."""

    def __init__(self, database: Database, policy: Callable[[], VOPolicy], clock: Clock, *,
                 ttl: timedelta = timedelta(seconds=10)) -> None:
        self._database = database
        self._policy = policy
        self._clock = clock
        self._ttl = ttl
        self._lock = threading.Lock()
        self._counts: dict[str, SingleFlight[Counts]] = {}
        self._local: dict[str, Counts] = defaultdict(lambda: defaultdict(dict))
        self._delayed: dict[tuple[str, str, str], datetime] = {}

    def exclusions(self, site: str) -> dict[str, frozenset[str]]:
        """Attribute -> values that may not be matched at ``site`` now."""
        policy = self._policy()
        limits = policy.running_limits.get(site)
        out: dict[str, set[str]] = defaultdict(set)
        if limits:
            counts = self._site_counts(site).get()
            local = self._local[site]
            for attribute, by_value in limits.items():
                for value, limit in by_value.items():
                    active = counts.get(attribute, {}).get(value, 0) + local[attribute].get(value, 0)
                    if active >= limit:
                        out[attribute].add(value)
        if self._delayed:
            now = self._clock.now()
            for (where, attribute, value), until in list(self._delayed.items()):
                if until <= now:
                    self._delayed.pop((where, attribute, value), None)
                elif where == site:
                    out[attribute].add(value)
        return {k: frozenset(v) for k, v in out.items()}

    def matched(self, site: str, req: JobRequirements) -> None:
        """Record a match at ``site`` of a job of queue ``req``."""
        policy = self._policy()
        limits = policy.running_limits.get(site, {})
        delays = policy.matching_delays.get(site, {})
        if not limits and not delays:
            return
        now = self._clock.now()
        with self._lock:
            for attribute in limits:
                for value in _values(req, attribute):
                    local = self._local[site][attribute]
                    local[value] = local.get(value, 0) + 1
            for attribute, by_value in delays.items():
                for value in _values(req, attribute) & by_value.keys():
                    self._delayed[(site, attribute, value)] = now + timedelta(
                        seconds=by_value[value])

    def _site_counts(self, site: str) -> SingleFlight[Counts]:
        with self._lock:
            cache = self._counts.get(site)
            if cache is None:
                cache = self._counts[site] = SingleFlight(lambda: self._load(site), ttl=self._ttl,
                                                          clock=self._clock)
            return cache

    def _load(self, site: str) -> Counts:
        attributes = [a for a in self._policy().running_limits.get(site, {})
                      if a in LIMIT_ATTRIBUTES]
        counts: Counts = {}
        with self._database.begin(read_only=True) as conn:
            for attribute in attributes:
                column = LIMIT_ATTRIBUTES[attribute]
                rows = conn.execute(select(column, func.count()).where(
                    jobs.c.site == site, jobs.c.status.in_(_ACTIVE)).group_by(column))
                counts[attribute] = {str(value): int(n) for value, n in rows}
        with self._lock:
            self._local.pop(site, None)  # the fresh counts include our own matches
        return counts

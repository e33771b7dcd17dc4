"""What a job needs from a resource: the definition of its task queue.

Jobs with equal :class:`JobRequirements` share a task queue. CPU time is
fitted to DIRAC's segments first, so that jobs asking for 3,000 s and 3,500 s
land in the same queue.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

__all__ = ["CPU_SEGMENTS", "SET_FIELDS", "JobRequirements", "cpu_segment", "join_set", "split_set"]

#: DIRAC's task-queue CPU-time segments (seconds; HS06-normalised).
CPU_SEGMENTS: tuple[int, ...] = (360, 1800, 3600, 21600, 43200, 86400, 172800, 259200, 345600,
                                 518400, 691200, 864000, 1080000)

#: The requirement sets, in the order of the task-queue columns.
SET_FIELDS: tuple[str, ...] = ("sites", "banned_sites", "grid_ces", "platforms", "job_types", "tags")

_SEP = "\x1f"  # ASCII unit separator: cannot appear in a site, CE, platform or tag name


def cpu_segment(cpu_time: int) -> int:
    """The first segment >= ``cpu_time``, or the last segment."""
    index = bisect.bisect_left(CPU_SEGMENTS, cpu_time)
    return CPU_SEGMENTS[min(index, len(CPU_SEGMENTS) - 1)]


def join_set(values: Iterable[str]) -> str:
    """A set as the sorted, separator-joined text stored in a task-queue column."""
    return _SEP.join(sorted(values))


def split_set(text: str) -> frozenset[str]:
    """The inverse of :func:`join_set`."""
    return frozenset(text.split(_SEP)) if text else frozenset()


@attrs.frozen(kw_only=True)
class JobRequirements:
    """Owner, group, VO, CPU segment and the exact sets a matching resource must satisfy.

    An empty set means "no constraint" (any site, any platform, ...), except
    ``tags``: a resource must offer every tag of the queue.
    """

    owner: str
    owner_group: str
    vo: str
    cpu_time: int
    sites: frozenset[str] = frozenset()
    banned_sites: frozenset[str] = frozenset()
    grid_ces: frozenset[str] = frozenset()
    platforms: frozenset[str] = frozenset()
    job_types: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()

    def fingerprint(self) -> str:
        """A stable hash of the whole definition: equal requirements, equal fingerprints."""
        parts = [self.owner, self.owner_group, self.vo, str(self.cpu_time),
                 *(join_set(getattr(self, name)) for name in SET_FIELDS)]
        return hashlib.sha256("\x1e".join(parts).encode()).hexdigest()

    def row(self) -> dict[str, Any]:
        """The task-queue columns of this definition."""
        out: dict[str, Any] = {"owner": self.owner, "owner_group": self.owner_group, "vo": self.vo,
                               "cpu_time": self.cpu_time, "fingerprint": self.fingerprint()}
        out.update({name: join_set(getattr(self, name)) for name in SET_FIELDS})
        return out

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> JobRequirements:
        """Rebuild the definition from task-queue columns."""
        return cls(owner=row["owner"], owner_group=row["owner_group"], vo=row["vo"],
                   cpu_time=int(row["cpu_time"]),
                   **{name: split_set(row[name]) for name in SET_FIELDS})

    def sharing_key(self) -> tuple[Any, ...]:
        """The definition without sites and banned sites (DIRAC sums such queues' priorities)."""
        return (self.owner, self.owner_group, self.cpu_time, self.grid_ces, self.platforms,
                self.job_types, self.tags)

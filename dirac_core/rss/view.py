"""A process's copy of every status, for the checks made on each pilot, match and SE access.

Those checks happen far more often than statuses change, so they read a snapshot of
``rss_status`` (one query for every row: the table holds one row per element and status type)
that is trusted for ``ttl`` seconds (DIRAC's client cache: 300 s), and dropped at once when this
process changes a status. Another replica's change shows within ``ttl``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from dirac_core.caching import SingleFlight
from dirac_core.model.clock import Clock
from dirac_core.model.resource_status import ALL, ElementType, ResourceStatus, StatusType
from dirac_core.rss.records import StatusRecord

__all__ = ["StatusView"]

_Key = tuple[ElementType, str, str, str]


class StatusView:
    """Statuses by (element type, name, status type, VO), refreshed every ``ttl`` seconds by one
    caller at a time (:class:`~dirac_core.caching.SingleFlight`: no stampede when it expires)."""

    def __init__(self, load: Callable[[], list[StatusRecord]], clock: Clock, *, ttl: float) -> None:
        self._load = load
        self._cache = SingleFlight(self._read, ttl=timedelta(seconds=ttl), clock=clock)

    def invalidate(self) -> None:
        """Read the table again at the next lookup."""
        self._cache.invalidate()

    def _read(self) -> dict[_Key, ResourceStatus]:
        return {(r.key.element_type, r.key.name, str(r.key.status_type), r.key.vo): r.status
                for r in self._load()}

    def _snapshot(self) -> dict[_Key, ResourceStatus]:
        return self._cache.get()

    def get(self, element_type: ElementType, name: str, status_type: StatusType | str = StatusType.ALL,
            vo: str = ALL) -> ResourceStatus | None:
        """The status of the element for ``vo`` (its own row, else the row for every VO), None when
        it has none."""
        statuses = self._snapshot()
        if vo != ALL:
            found = statuses.get((element_type, name, str(status_type), vo))
            if found is not None:
                return found
        return statuses.get((element_type, name, str(status_type), ALL))

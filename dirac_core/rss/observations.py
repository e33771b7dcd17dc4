"""What the policies observe during one evaluation pass, each kind of data read once.

DIRAC fills caches tables (CacheFeederAgent) that its policies read; here one
:class:`PassObservations` per pass loads lazily, on the first policy that asks, from where the
data lives: the pilot registry (pilots per CE and queue), the WMS (jobs per site), the storage
elements (occupancy), the SE test transfers, the downtime calendar, and the statuses themselves
(as already updated in this pass, for propagation).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from datetime import datetime, timedelta
from typing import Any

from dirac_core.dms.storage_element import StorageElements
from dirac_core.model.resource_status import (
    Downtime,
    Element,
    ElementKey,
    ElementType,
    ResourceStatus,
    StatusType,
    TransferTest,
)
from dirac_core.plugins.storage import Occupancy
from dirac_core.rss.downtimes import DowntimeCalendar
from dirac_core.rss.elements import ElementCatalog
from dirac_core.wms.pilots import PilotRegistry
from dirac_core.wms.query import ScalarFilter

__all__ = ["PassObservations"]


class PassObservations:
    """The :class:`~dirac_core.plugins.policies.Observations` of one pass at ``now``.

    ``statuses`` is the pass's view of every status (the engine updates it as it decides);
    each source may be None (no pilot registry, no WMS, ...): the matching method then has no data.
    """

    def __init__(self, *, now: datetime, catalog: ElementCatalog,
                 statuses: MutableMapping[ElementKey, ResourceStatus],
                 pilots: PilotRegistry | None = None, wms: Any = None,
                 storage: StorageElements | None = None,
                 tests: Callable[[], dict[str, TransferTest]] | None = None,
                 calendar: DowntimeCalendar | None = None) -> None:
        self._now = now
        self._catalog = catalog
        self._statuses = statuses
        self._pilots = pilots
        self._wms = wms
        self._storage = storage
        self._tests_source = tests
        self._calendar = calendar
        self._pilot_counts: dict[timedelta, dict[tuple[str, str, str], dict[Any, int]]] = {}
        self._job_counts: dict[timedelta, dict[str, dict[str, int]]] = {}
        self._tests: dict[str, TransferTest] | None = None
        self._downtimes: list[Downtime] | None = None
        self._occupancy: dict[str, Occupancy | None] = {}

    @property
    def now(self) -> datetime:
        """The time of the pass."""
        return self._now

    def downtimes(self, element: Element, horizon: timedelta) -> list[Downtime] | None:
        """Downtimes of the element, or of the site (or CE, for a queue) it belongs to, ongoing now or
        starting within ``horizon``; None when no calendar is configured. Raises ``CalendarError``."""
        if self._calendar is None:
            return None
        if self._downtimes is None:
            self._downtimes = self._calendar.downtimes()
        names = {element.name} | {n for n in (element.site, element.ce) if n}
        return [d for d in self._downtimes if d.element in names and d.within(self._now, horizon)]

    def pilot_counts(self, element: Element, window: timedelta) -> Mapping[str, int]:
        """Pilots of a CE (all its queues) or of a queue, updated within ``window``, by status."""
        if self._pilots is None:
            return {}
        counts = self._pilot_counts.get(window)
        if counts is None:
            counts = self._pilot_counts[window] = self._pilots.status_counts(self._now - window)
        out: dict[str, int] = {}
        for (site, ce, queue), by_status in counts.items():
            if element.site is not None and site != element.site:
                continue
            if element.element_type is ElementType.QUEUE:
                wanted = element.name == f"{ce}/{queue}"
            else:
                wanted = ce == element.name
            if wanted:
                for status, count in by_status.items():
                    out[str(status)] = out.get(str(status), 0) + count
        return out

    def job_counts(self, element: Element, window: timedelta) -> Mapping[str, int]:
        """Jobs of a site updated within ``window``, by status (one grouped WMS summary a pass)."""
        if self._wms is None:
            return {}
        counts = self._job_counts.get(window)
        if counts is None:
            counts = {}
            recent = ScalarFilter("LastUpdateTime", "gt", self._now - window)
            rows = self._wms.summary(["Site", "Status"], [recent])
            for row in rows:
                site_counts = counts.setdefault(str(row["Site"]), {})
                site_counts[str(row["Status"])] = site_counts.get(str(row["Status"]), 0) + row["count"]
            self._job_counts[window] = counts
        return dict(counts.get(element.name, {}))

    def occupancy(self, element: Element) -> Occupancy | None:
        """The SE's free and total bytes (asked once a pass); None when it cannot tell."""
        if self._storage is None:
            return None
        if element.name not in self._occupancy:
            self._occupancy[element.name] = self._storage[element.name].occupancy()
        return self._occupancy[element.name]

    def transfer_test(self, element: Element) -> TransferTest | None:
        """The SE's last test transfer, None before the first."""
        if self._tests_source is None:
            return None
        if self._tests is None:
            self._tests = self._tests_source()
        return self._tests.get(element.name)

    def members(self, site: Element) -> list[Element]:
        """The CEs and SEs of a site."""
        return self._catalog.members(site.name)

    def status(self, element: Element, status_type: StatusType = StatusType.ALL) -> ResourceStatus | None:
        """The element's status as this pass sees it (None: it has none)."""
        return self._statuses.get(element.key(status_type))

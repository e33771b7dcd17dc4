"""The resource status system: statuses of sites, CEs, queues and SEs, decided by policies or set by
hand, and the checks the rest of the interware obeys.

:class:`ResourceStatusSystem` (``Interware.status``) holds the element catalogue (from the
configuration), the policies (drivers of ``dirac.policies`` chosen by ``[resource_status]``), the
status tables and a cached view of them. The site director and the matcher ask :meth:`gate`; the
storage elements ask :meth:`se_access`. Its periodic tasks (:mod:`dirac_core.rss.periodic`) run
:meth:`evaluate`, :meth:`expire_overrides` and :meth:`test_transfers`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Mapping, MutableMapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from dirac_core.config.model import Config
from dirac_core.config.resource_status import PolicySettings
from dirac_core.config.resources import AccessStatus
from dirac_core.db.database import Database
from dirac_core.dms.storage_element import Access, StorageElements
from dirac_core.errors import PluginNotFound
from dirac_core.model.clock import Clock, ensure_utc
from dirac_core.model.resource_status import (
    ALL,
    Element,
    ElementKey,
    ElementType,
    ResourceStatus,
    StatusType,
    TransferTest,
)
from dirac_core.plugins.groups import PluginGroup
from dirac_core.plugins.loading import available, load_driver
from dirac_core.plugins.policies import Policy
from dirac_core.rss.downtimes import DowntimeCalendar
from dirac_core.rss.elements import ElementCatalog, queue_name
from dirac_core.rss.evaluation import evaluate_elements
from dirac_core.rss.observations import PassObservations
from dirac_core.rss.records import POLICY_OWNER, EvaluationReport, HistoryEntry, StatusRecord
from dirac_core.rss.store import DUE_NOW, StatusChange, StatusStore
from dirac_core.rss.transfers import run_test_transfer
from dirac_core.rss.view import StatusView
from dirac_core.wms.matching import SiteGate
from dirac_core.wms.pilots import PilotRegistry

__all__ = ["ResourceStatusSystem"]

log = logging.getLogger(__name__)

_ACCESS_TYPES = {Access.READ: StatusType.READ, Access.WRITE: StatusType.WRITE, Access.CHECK: StatusType.CHECK,
                 Access.REMOVE: StatusType.REMOVE}

PolicyFactory = Callable[[Mapping[str, Any]], Policy]


class ResourceStatusSystem:
    """Statuses, policies, overrides and the checks obeyed (see the module's description).

    ``pilots`` and ``wms`` feed the efficiency policies, ``storage`` (default: the configured SEs,
    used without their statuses, so that a banned SE can still be tested) the free-space policy
    and the test transfers. ``drivers`` adds policy factories by name, looked up before the
    ``dirac.policies`` entry points; ``fetch`` reads a calendar URL. Raises ``PluginNotFound`` for
    a configured policy type that is not installed. The policies themselves are built on first use
    (:attr:`policies`), so that building an interware imports none of them; a bad policy parameter
    raises ``ValueError`` then.
    """

    def __init__(self, *, database: Database, config: Config, clock: Clock,
                 pilots: PilotRegistry | None = None, wms: Any = None, storage: StorageElements | None = None,
                 drivers: Mapping[str, PolicyFactory] | None = None,
                 fetch: Callable[[str], str] | None = None) -> None:
        self.config = config
        self.settings = config.resource_status
        self.clock = clock
        self.pilots = pilots
        self.wms = wms
        self._own_storage = storage is None
        self.storage = storage if storage is not None else StorageElements(config)
        self.elements = ElementCatalog(config)
        self.store = StatusStore(database)
        self.view = StatusView(self.store.records, clock, ttl=self.settings.cache)
        self.calendar = (None if self.settings.downtimes is None else DowntimeCalendar(
            self.settings.downtimes, clock=clock, refresh=self.settings.downtime_refresh, fetch=fetch))
        self._drivers = dict(drivers or {})
        installed = set(available(PluginGroup.POLICIES)) | set(self._drivers)
        for settings in self.settings.policies:
            if settings.type not in installed:
                raise PluginNotFound(str(PluginGroup.POLICIES), settings.type, sorted(installed))
        self._policies: list[tuple[PolicySettings, Policy]] | None = None
        self._lock = threading.Lock()

    @property
    def policies(self) -> list[tuple[PolicySettings, Policy]]:
        """The configured policies with their drivers, in configuration order (built on first use;
        ``ValueError`` for a bad parameter)."""
        with self._lock:
            if self._policies is None:
                built = []
                for settings in self.settings.policies:
                    driver = (self._drivers.get(settings.type)
                              or load_driver(PluginGroup.POLICIES, settings.type))
                    built.append((settings, driver(settings.parameters)))
                self._policies = built
            return self._policies

    # -- reading --------------------------------------------------------------------------

    def statuses(self, *, element_type: ElementType | str | None = None, name: str | None = None
                 ) -> list[StatusRecord]:
        """The stored statuses (of one type / element when given), in key order."""
        return self.store.records(element_type=None if element_type is None else ElementType(element_type),
                                  name=name)

    def status_of(self, name: str, status_type: StatusType | str = StatusType.ALL, *,
                  element_type: ElementType | str | None = None, vo: str = ALL) -> ResourceStatus | None:
        """The element's status for ``status_type`` and ``vo`` (from the cached view); None when it
        has none. Raises ``NotFound`` for an element the configuration does not have."""
        element = self.elements.get(name, element_type)
        return self.view.get(element.element_type, element.name, status_type, vo)

    def history(self, name: str | None = None, *, element_type: ElementType | str | None = None,
                limit: int = 100) -> list[HistoryEntry]:
        """The latest ``limit`` status changes (of the element ``name`` when given), oldest first."""
        kind = None if element_type is None else ElementType(element_type)
        if name is not None:
            kind = self.elements.get(name, element_type).element_type
        return self.store.history(element_type=kind, name=name, limit=limit)

    # -- manual statuses ------------------------------------------------------------------

    def _keys(self, element: Element, status_type: StatusType | str | None, vo: str) -> list[ElementKey]:
        types = element.status_types if status_type is None else (StatusType(status_type),)
        return [ElementKey(element_type=element.element_type, name=element.name, status_type=t, vo=vo)
                for t in types]

    def set_status(self, name: str, status: ResourceStatus | str, *, reason: str, owner: str,
                   status_type: StatusType | str | None = None, until: datetime | timedelta | None = None,
                   element_type: ElementType | str | None = None, vo: str = ALL) -> list[StatusRecord]:
        """Set an element's status by hand (every status type of it unless one is given).

        The policies leave it until ``until`` (a time, or a duration from now; default: the
        configured ``token_lifetime``, DIRAC's one day); then the expiry task hands it back.
        ``owner`` is who set it (``rss``, the policies' own name, sets a status the policies may
        change at once). No transition rule applies to a manual change. Raises ``NotFound`` for
        an unknown element, ``ValueError`` for a status type it does not have or a past ``until``.
        """
        element = self.elements.get(name, element_type)
        keys = self._keys(element, status_type, vo)
        now = self.clock.now()
        expiry: datetime | None
        if owner == POLICY_OWNER:
            expiry = None
        elif until is None:
            expiry = now + timedelta(seconds=self.settings.token_lifetime)
        else:
            expiry = now + until if isinstance(until, timedelta) else ensure_utc(until, name="until")
            if expiry <= now:
                raise ValueError(f"until ({expiry.isoformat()}) is not in the future")
        stored = self.store.records(element_type=element.element_type, name=element.name)
        current = {r.key: r.status for r in stored}
        wanted = ResourceStatus(status)
        checked = now if owner != POLICY_OWNER else DUE_NOW  # the policies' own: theirs to decide at once
        self.store.apply([StatusChange(key=key, status=wanted, reason=reason, owner=owner, until=expiry,
                                       expected=current.get(key), manual=True, last_check=checked)
                          for key in keys], now)
        self.view.invalidate()
        return [r for r in self.store.records(element_type=element.element_type, name=element.name)
                if r.key in keys]

    def _hand_back(self, records: Collection[StatusRecord],
                   why: Callable[[StatusRecord], str]) -> list[ElementKey]:
        if not records:
            return []
        now = self.clock.now()
        applied = self.store.apply([StatusChange(
            key=r.key, status=r.status, reason=why(r), expected=r.status, expected_owner=r.token_owner,
            last_check=DUE_NOW) for r in records], now)
        self.view.invalidate()
        return [c.key for c in applied]

    def release(self, name: str, *, status_type: StatusType | str | None = None,
                element_type: ElementType | str | None = None, vo: str = ALL,
                by: str = "") -> list[ElementKey]:
        """Hand a manual status back to the policies now (they decide at the next evaluation);
        the keys released."""
        element = self.elements.get(name, element_type)
        keys = set(self._keys(element, status_type, vo))
        held = [r for r in self.store.records(element_type=element.element_type, name=element.name)
                if r.key in keys and r.token_owner != POLICY_OWNER]
        return self._hand_back(held, lambda r: f"status of {r.token_owner} released"
                                               + (f" by {by}" if by else ""))

    def expire_overrides(self) -> list[ElementKey]:
        """Hand every manual status whose time is up back to the policies (DIRAC's TokenAgent); the
        keys handed back."""
        return self._hand_back(self.store.expired(self.clock.now()),
                               lambda r: f"status of {r.token_owner} expired")

    # -- policies ---------------------------------------------------------------------------

    def _observe(self, now: datetime,
                 statuses: MutableMapping[ElementKey, ResourceStatus]) -> PassObservations:
        return PassObservations(now=now, catalog=self.elements, statuses=statuses, pilots=self.pilots,
                                wms=self.wms, storage=self.storage, tests=self.store.tests,
                                calendar=self.calendar)

    def evaluate(self, *, force: bool = False, names: Collection[str] | None = None,
                 element_types: Collection[ElementType | str] | None = None) -> EvaluationReport:
        """Run the policies of every element that is due (every one with ``force``; only ``names``
        / ``element_types`` when given) and write the decisions; what was done, with each policy's
        outcome. A policy that raises is reported in the result and does not stop the pass."""
        kinds = None if element_types is None else {ElementType(t) for t in element_types}
        report = evaluate_elements(now=self.clock.now(), catalog=self.elements, store=self.store,
                                   settings=self.settings, policies=self.policies, observe=self._observe,
                                   force=force, names=names, element_types=kinds)
        if report.changes:
            self.view.invalidate()
        for key, outcome in report.errors:
            log.warning("%s: policy %s failed: %s", key, outcome.policy, outcome.reason)
        return report

    def test_transfers(self, names: Collection[str] | None = None, *,
                       work_dir: Path | None = None) -> dict[str, TransferTest]:
        """Write, read back and remove a tiny file on each SE (``names``, default every one), and
        keep each outcome for the ``SETestTransfer`` policy; the outcomes by SE."""
        out = {}
        for se in self.storage.names() if names is None else names:
            test = run_test_transfer(self.storage[se], self.settings.test_transfer_path, self.clock,
                                     work_dir=work_dir)
            self.store.save_test(test)
            out[se] = test
            if not test.ok:
                log.warning("test transfer to %s failed: %s", se, test.error)
        return out

    # -- what the rest obeys -------------------------------------------------------------

    def gate(self, site: str, ce: str | None = None, queue: str | None = None, vo: str = ALL) -> SiteGate:
        """What may go to this site / CE / queue, from the most restrictive of their statuses:
        Banned or Error close it, Probing lets only Test jobs through (and no pilots), anything else
        (or no status) leaves it open."""
        found = [self.view.get(ElementType.SITE, site, vo=vo)]
        if ce:
            found.append(self.view.get(ElementType.COMPUTING_ELEMENT, ce, vo=vo))
            if queue:
                found.append(self.view.get(ElementType.QUEUE, queue_name(ce, queue), vo=vo))
        known = [s for s in found if s is not None]
        worst = min(known, key=lambda s: s.level) if known else None
        if worst is None or worst.usable:
            return SiteGate.OPEN
        return SiteGate.TEST_ONLY if worst is ResourceStatus.PROBING else SiteGate.CLOSED

    def se_access(self, se: str, access: Access) -> AccessStatus:
        """The status of one kind of access to an SE: the more restrictive of the configured one
        (``read_access``, ...) and the resource status (Unknown or none: the configured one; Error
        counts as Banned). The ``status`` callable of :class:`StorageElements`."""
        section = self.config.resources.storage_elements.get(se)
        configured = (AccessStatus.ACTIVE if section is None
                      else AccessStatus(getattr(section, f"{access}_access")))
        status = self.view.get(ElementType.STORAGE_ELEMENT, se, _ACCESS_TYPES[access])
        if status is None or status is ResourceStatus.UNKNOWN:
            return configured
        if status.level < ResourceStatus(configured.value).level:
            return AccessStatus.BANNED if status is ResourceStatus.ERROR else AccessStatus(status.value)
        return configured

    def close(self) -> None:
        """Close the storage elements this system built and the policies."""
        for _, policy in self._policies or ():
            policy.close()
        if self._own_storage:
            self.storage.close()

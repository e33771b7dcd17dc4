"""The site director: sends pilots where there is work for them, and follows them.

One :meth:`SiteDirector.run_once` is one cycle for one VO, over every queue of
every CE in the configuration (vacuum CEs excepted: their machines start
pilots by themselves):

1. pilots not yet final are asked about at their CE; new statuses are
   recorded, and the output of each pilot that ended is fetched and kept
   (:meth:`~dirac_core.wms.pilots.PilotRegistry.keep_output`), so that a
   job's pilot log stays reachable after the CE has forgotten it;
2. for each queue of a site in the mask that the resource status system leaves open
   (``gate``: not a Banned or Probing site, CE or queue), pilots to submit =
   min(free slots of the queue, waiting jobs that queue could run minus its
   pilots still waiting, the per-cycle cap);
3. a queue whose CE cannot be reached or fails is skipped, with a back-off
   that doubles at each failure (up to ``max_backoff``); the others go on.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from attrs import define, field, frozen

from dirac_core.config.model import Config
from dirac_core.config.queues import Queue
from dirac_core.config.registry import Property
from dirac_core.config.sections import CESection
from dirac_core.errors import ConfigError, DiracError
from dirac_core.model.clock import Clock
from dirac_core.model.identity import Identity
from dirac_core.model.pilot import PilotStatus
from dirac_core.plugins.computing import ComputingElement, free_slots
from dirac_core.wms.matching import Gate, SiteGate
from dirac_core.wms.pilots import PilotRecord, PilotRegistry
from dirac_core.wms.resource import ResourceDescription

__all__ = ["CycleReport", "DirectorTask", "QueueTarget", "SiteDirector"]

log = logging.getLogger(__name__)


@frozen(kw_only=True)
class QueueTarget:
    """One queue of one CE of one site."""

    site: str
    ce: CESection
    queue: Queue

    @property
    def key(self) -> str:
        """``site/ce/queue``."""
        return f"{self.site}/{self.ce.name}/{self.queue.name}"

    def resource(self, vo: str) -> ResourceDescription:
        """What a pilot in this queue would offer (before it looks at its node)."""
        tags = self.ce.tags | self.queue.tags
        platform = self.queue.platform or self.ce.platform
        return ResourceDescription(
            site=self.site, cpu_time=self.queue.max_cpu_time, grid_ce=self.ce.name, queue=self.queue.name,
            platforms=frozenset({platform}) if platform else frozenset(), tags=tags or None,
            processors=self.queue.processors, max_ram_mb=self.queue.max_ram_mb, vo=vo)


@define(kw_only=True)
class CycleReport:
    """What one cycle did, per queue key."""

    submitted: dict[str, int] = field(factory=dict)
    skipped: dict[str, str] = field(factory=dict)
    errors: dict[str, str] = field(factory=dict)
    updated: int = 0
    outputs: int = 0


class _BackOff:
    """Failures per queue, and when each may be tried again."""

    def __init__(self, base: timedelta, maximum: timedelta) -> None:
        self.base, self.maximum = base, maximum
        self.failures: dict[str, int] = {}
        self.until: dict[str, datetime] = {}

    def waiting(self, key: str, now: datetime) -> bool:
        return key in self.until and now < self.until[key]

    def failed(self, key: str, now: datetime) -> None:
        count = self.failures[key] = self.failures.get(key, 0) + 1
        self.until[key] = now + min(self.base * 2 ** (count - 1), self.maximum)

    def succeeded(self, key: str) -> None:
        self.failures.pop(key, None)
        self.until.pop(key, None)


class SiteDirector:
    """Submits and follows the pilots of ``vo``.

    ``make_ce(target)`` builds the CE driver of a queue (kept for later cycles);
    ``script(target, stamp)`` writes the pilot script of one pilot (with its
    token). ``wms`` is the WMS engine (its ``waiting_for``), ``pilots`` the
    pilot registry. Outputs of pilots that ended are fetched for ``output_window``
    after their end (an output the CE no longer has is kept as a note in stderr).
    ``gate`` (``Interware.status.gate``) closes queues whose site, CE or queue is not usable.
    """

    def __init__(self, *, config: Config, wms: Any, pilots: PilotRegistry, vo: str, clock: Clock,
                 make_ce: Callable[[QueueTarget], ComputingElement],
                 script: Callable[[QueueTarget, str], str], per_cycle_cap: int = 20,
                 backoff: timedelta = timedelta(minutes=1),
                 max_backoff: timedelta = timedelta(hours=1),
                 output_window: timedelta = timedelta(days=1), gate: Gate | None = None) -> None:
        self.config = config
        self.gate = gate
        self.wms = wms
        self.pilots = pilots
        self.vo = vo
        self.clock = clock
        self.make_ce = make_ce
        self.script = script
        self.per_cycle_cap = per_cycle_cap
        self.backoff = _BackOff(backoff, max_backoff)
        self.output_window = output_window
        self._ces: dict[str, ComputingElement] = {}
        self.identity = self._pilot_identity()

    def _pilot_identity(self) -> Identity:
        registry = self.config.registry
        for name, group in sorted(registry.groups.items()):
            if group.vo == self.vo and Property.GENERIC_PILOT in group.properties:
                return Identity(user="site-director", group=name, vo=self.vo,
                                properties=frozenset(group.properties))
        raise ConfigError([("registry.groups", f"VO {self.vo!r} has no group with GenericPilot")])

    def targets(self) -> list[QueueTarget]:
        """Every queue pilots can be submitted to (vacuum CEs have none)."""
        found: list[QueueTarget] = []
        for site in self.config.resources.all_sites():
            for ce in site.ces:
                if ce.type == "vacuum":
                    continue
                found.extend(QueueTarget(site=site.name, ce=ce, queue=q) for q in ce.queues.values())
        return found

    def _gate(self, target: QueueTarget) -> SiteGate:
        if self.gate is None:
            return SiteGate.OPEN
        return self.gate(target.site, target.ce.name, target.queue.name, self.vo)

    def _ce(self, target: QueueTarget) -> ComputingElement:
        ce = self._ces.get(target.key)
        if ce is None:
            ce = self._ces[target.key] = self.make_ce(target)
        return ce

    # -- one cycle ------------------------------------------------------------------

    def run_once(self) -> CycleReport:
        """Refresh pilot statuses, then submit where there is work; what was done."""
        report = CycleReport()
        now = self.clock.now()
        targets = {t.key: t for t in self.targets()}
        waiting_pilots = self._refresh(targets, report, now)
        usable = []
        for key, target in targets.items():
            if not self.config.resources.is_allowed(target.site):
                report.skipped[key] = "site not in the mask"
            elif (gate := self._gate(target)) is not SiteGate.OPEN:
                report.skipped[key] = f"resource status: {gate}"
            elif self.backoff.waiting(key, now):
                report.skipped[key] = f"backing off until {self.backoff.until[key].isoformat()}"
            elif key not in report.errors:
                usable.append(target)
        counts = self.wms.waiting_for([t.resource(self.vo) for t in usable], self.identity) if usable else []
        records: list[PilotRecord] = []
        for target, jobs in zip(usable, counts, strict=True):
            wanted = jobs - waiting_pilots.get(target.key, 0)
            if wanted <= 0:
                continue
            try:
                records += self._submit(target, wanted, report)
            except DiracError as exc:
                self.backoff.failed(target.key, now)
                report.errors[target.key] = str(exc)
                log.warning("queue %s: %s (backing off)", target.key, exc)
            else:
                self.backoff.succeeded(target.key)
        if records:  # one transaction for the cycle's pilots
            self.pilots.register(records)
        return report

    def _submit(self, target: QueueTarget, wanted: int, report: CycleReport) -> list[PilotRecord]:
        ce = self._ce(target)
        slots = free_slots(ce.ce_status(), max_total=target.queue.max_total_jobs,
                           max_waiting=target.queue.max_waiting_jobs)
        count = min(slots, wanted, self.per_cycle_cap)
        records: list[PilotRecord] = []
        for _ in range(count):
            stamp = uuid.uuid4().hex
            result = ce.submit(self.script(target, stamp), [stamp])
            if stamp in result.failed:
                if not records:
                    raise result.failed[stamp]  # the CE refuses: back off
                break
            records.append(PilotRecord(pilot_stamp=stamp, vo=self.vo, grid_type=target.ce.type,
                                       grid_site=target.site, destination_site=target.ce.name,
                                       queue=target.queue.name, pilot_reference=result.ok[stamp]))
        if records:
            report.submitted[target.key] = len(records)
        return records

    def _refresh(self, targets: dict[str, QueueTarget], report: CycleReport, now: datetime
                 ) -> dict[str, int]:
        """Ask the CEs about their pilots that are alive, or that ended without their output kept
        yet; the pilots still waiting, per queue key."""
        by_queue: dict[str, list[dict[str, Any]]] = {}
        rows = self.pilots.active(self.vo) + self.pilots.without_output(self.vo, now - self.output_window)
        for row in rows:
            key = f"{row['GridSite']}/{row['DestinationSite']}/{row['Queue']}"
            by_queue.setdefault(key, []).append(row)
        waiting: dict[str, int] = {}
        for key, queue_rows in by_queue.items():
            target = targets.get(key)
            if target is None or self.backoff.waiting(key, now):
                waiting[key] = sum(PilotStatus(r["Status"]).is_waiting for r in queue_rows)
                continue
            try:
                waiting[key] = self._refresh_queue(target, queue_rows, report)
            except DiracError as exc:
                self.backoff.failed(key, now)
                report.errors[key] = str(exc)
                waiting[key] = sum(PilotStatus(r["Status"]).is_waiting for r in queue_rows)
        return waiting

    def _refresh_queue(self, target: QueueTarget, rows: Sequence[dict[str, Any]],
                       report: CycleReport) -> int:
        ce = self._ce(target)
        by_ref = {r["PilotJobReference"]: r for r in rows}
        answer = ce.status(list(by_ref))
        seen: dict[str, PilotStatus] = {}  # stamp -> what the CE says now
        changes: dict[str, tuple[PilotStatus, str]] = {}
        for ref, status in answer.ok.items():
            row = by_ref[ref]
            seen[row["PilotStamp"]] = status
            if status != row["Status"] and not PilotStatus(row["Status"]).is_final:
                changes[row["PilotStamp"]] = (status, f"reported by {target.ce.name}")
        for ref, error in answer.failed.items():
            row = by_ref[ref]
            seen[row["PilotStamp"]] = PilotStatus.UNKNOWN
            if not PilotStatus(row["Status"]).is_final:
                changes[row["PilotStamp"]] = (PilotStatus.UNKNOWN, str(error)[:255])
        applied = self.pilots.set_status(changes) if changes else None
        report.updated += len(applied.ok) if applied else 0
        refs = {r["PilotStamp"]: ref for ref, r in by_ref.items()}
        # the pilot may have said Done itself: its output is complete once the CE says it ended
        ended = [stamp for stamp, status in seen.items() if status.is_final]
        for stamp in ended:
            try:
                out, err = ce.output(refs[stamp])
            except DiracError as exc:
                out, err = "", f"no output from {target.ce.name}: {exc}"
            self.pilots.keep_output(stamp, out, err)
            report.outputs += 1
        current = {r["PilotStamp"]: changes.get(r["PilotStamp"], (PilotStatus(r["Status"]),))[0]
                   for r in rows}
        return sum(1 for stamp, status in current.items()
                   if stamp not in ended and status.is_waiting)

    def close(self) -> None:
        """Close every CE driver built so far."""
        for ce in self._ces.values():
            ce.close()
        self._ces.clear()


@frozen
class DirectorTask:
    """The site director as a periodic task (``wms.site_director.<vo>``)."""

    director: SiteDirector
    interval: timedelta = timedelta(minutes=2)

    @property
    def name(self) -> str:
        """The task's lease name."""
        return f"wms.site_director.{self.director.vo}"

    def run_once(self) -> int:
        """One cycle; how many pilots it submitted."""
        return sum(self.director.run_once().submitted.values())

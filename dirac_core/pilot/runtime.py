"""The pilot: describe the node, pull jobs, run them, stop when there is no work or no time.

A pilot fills its processors: it asks for a job that fits the processors
still free, runs each job's :class:`~dirac_core.pilot.wrapper.JobWrapper` on a
thread (the payload itself is a separate process), and asks again as jobs
end. It stops when nothing matches and nothing runs, when ``max_jobs`` jobs
were taken, or when less than ``min_time_left`` seconds remain. A server that
cannot be reached is tried again with back-off, then the pilot exits cleanly;
an identity the server refuses stops it at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from attrs import field, frozen

from dirac_core.client.errors import RemoteError
from dirac_core.errors import DatabaseUnavailable, DiracError, NotAuthenticated, PermissionDenied
from dirac_core.jdl.description import JobDescription
from dirac_core.model.clock import Clock
from dirac_core.model.pilot import PilotStatus
from dirac_core.pilot.node import NodeInfo
from dirac_core.pilot.services import PilotServices
from dirac_core.pilot.wrapper import DataTransfers, JobOutcome, JobWrapper, WrapperSettings
from dirac_core.wms.matcher import MatchedJob
from dirac_core.wms.resource import ResourceDescription

__all__ = ["Pilot", "PilotReport", "PilotSettings"]

log = logging.getLogger(__name__)


@frozen(kw_only=True)
class PilotSettings:
    """Where the pilot runs and how long it goes on.

    ``cpu_power`` (HS06 per core) turns seconds left into the CPU work the
    matcher compares with a job's ``CPUTime``; ``unlimited_cpu_time`` is
    offered when the time left is unknown.
    """

    site: str
    stamp: str
    wrapper: WrapperSettings
    ce: str | None = None
    queue: str | None = None
    vo: str | None = None
    tags: frozenset[str] = field(factory=frozenset, converter=frozenset)
    processors: int | None = None
    max_jobs: int | None = None
    min_time_left: float = 300.0
    cpu_power: float = 1.0
    unlimited_cpu_time: int = 7 * 86_400
    server_attempts: int = 5
    backoff_seconds: float = 2.0


@frozen(kw_only=True)
class PilotReport:
    """What a pilot did."""

    outcomes: tuple[JobOutcome, ...]
    stopped_because: str


_TRANSIENT = (DatabaseUnavailable,)


def _transient(exc: DiracError) -> bool:
    status = getattr(exc, "status", None)
    return isinstance(exc, _TRANSIENT) or (isinstance(exc, RemoteError) and (status is None or status >= 500))


class Pilot:
    """One pilot on one node."""

    def __init__(self, services: PilotServices, settings: PilotSettings, *, node: NodeInfo, clock: Clock,
                 time_left: Callable[[], float | None] = lambda: None, data: DataTransfers | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.services = services
        self.settings = settings
        self.node = node
        self.clock = clock
        self.time_left = time_left
        self.data = data
        self._sleep = sleep
        self.processors = settings.processors or node.processors

    def resource(self, free: int) -> ResourceDescription:
        """What the pilot offers now that ``free`` processors are idle."""
        left = self.time_left()
        cpu = (self.settings.unlimited_cpu_time if left is None
               else int(left * self.settings.cpu_power))
        return ResourceDescription(
            site=self.settings.site, cpu_time=cpu, grid_ce=self.settings.ce, queue=self.settings.queue,
            platforms=frozenset({self.node.platform}), tags=self.settings.tags or None,
            processors=free, max_ram_mb=self.node.memory_mb or None, vo=self.settings.vo,
            pilot_stamp=self.settings.stamp)

    def _enough_time(self) -> bool:
        left = self.time_left()
        return left is None or left >= self.settings.min_time_left

    def _match(self, free: int) -> MatchedJob | None:
        """A job, None when there is none; ``DiracError`` when the server is gone for good."""
        attempt = 1
        while True:
            try:
                return self.services.match(self.resource(free))
            except DiracError as exc:
                if not _transient(exc) or attempt >= self.settings.server_attempts:
                    raise
                delay = self.settings.backoff_seconds * 2 ** (attempt - 1)
                log.warning("matching failed (%s), again in %.0f s", exc, delay)
                self._sleep(delay)
                attempt += 1

    def _report(self, status: PilotStatus, reason: str) -> None:
        try:
            self.services.report_pilot(self.settings.stamp, status, reason)
        except DiracError as exc:  # an unregistered (vacuum) pilot, a server going away
            log.info("pilot status %s not recorded: %s", status, exc)

    def run(self) -> PilotReport:
        """Pull and run jobs until there is no more work or time; what was done."""
        self._report(PilotStatus.RUNNING, "pilot started")
        where = {"DIRAC_SITE": self.settings.site, "DIRAC_CE": self.settings.ce or "",
                 "DIRAC_QUEUE": self.settings.queue or "", "DIRAC_PILOT_STAMP": self.settings.stamp}
        wrapper = JobWrapper(self.services, self.settings.wrapper, clock=self.clock, data=self.data,
                             time_left=self.time_left, environment=where)
        outcomes: list[JobOutcome] = []
        running: dict[Future[JobOutcome], int] = {}
        taken, free = 0, self.processors
        reason = "no more work"
        with ThreadPoolExecutor(max_workers=self.processors, thread_name_prefix="job") as pool:
            while True:
                if self.settings.max_jobs is not None and taken >= self.settings.max_jobs:
                    reason = f"took {taken} job(s), the maximum"
                    break
                if not self._enough_time():
                    reason = "not enough time left"
                    break
                job = None
                if free > 0:
                    try:
                        job = self._match(free)
                    except (NotAuthenticated, PermissionDenied) as exc:
                        reason = f"refused by the server: {exc}"
                        break
                    except DiracError as exc:
                        reason = f"server unreachable: {exc}"
                        break
                if job is not None:
                    need = self._processors_of(job, free)
                    free -= need
                    taken += 1
                    running[pool.submit(wrapper.run, job)] = need
                    continue
                if not running:
                    break
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    free += running.pop(future)
                    outcomes.append(future.result())
            for future in list(running):
                outcomes.append(future.result())
        failed = any(o.status == "Failed" for o in outcomes)
        self._report(PilotStatus.DONE, f"{len(outcomes)} job(s), {reason}"
                     + (", some failed" if failed else ""))
        return PilotReport(outcomes=tuple(outcomes), stopped_because=reason)

    def _processors_of(self, job: MatchedJob, free: int) -> int:
        try:
            described = JobDescription.from_jdl(job.jdl)
        except DiracError:
            return 1  # the wrapper reports the bad JDL
        if described.whole_node:
            return free
        return max(1, min(free, described.min_processors))

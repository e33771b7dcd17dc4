"""The built-in policies (entry points ``dirac.policies``), DIRAC's rules with their parameters.

Each takes its thresholds from ``parameters`` (names and defaults in its docstring) and answers
Unknown when it has no data, never Error: a policy that cannot read its data raises, and the
engine reports that (the element keeps its status).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, ClassVar

from dirac_core.model.resource_status import ElementType, ResourceStatus, Severity, StatusType
from dirac_core.plugins.policies import Observations, Policy, PolicyResult

__all__ = ["AlwaysActive", "AlwaysBanned", "AlwaysDegraded", "AlwaysProbing", "DowntimeOngoing",
           "DowntimeScheduled", "FreeSpace", "JobEfficiency", "PilotEfficiency", "Propagation",
           "SETestTransfer"]

_R = ResourceStatus


def _number(parameters: Mapping[str, Any], name: str, default: float) -> float:
    value = parameters.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ValueError(f"policy parameter {name!r} must be a number >= 0, not {value!r}")
    return float(value)


def _ratio(value: float) -> str:
    return f"{value:.0%}"


class _Always(Policy):
    status: ClassVar[ResourceStatus]

    def evaluate(self, element: Any, status_type: StatusType, observations: Observations) -> PolicyResult:
        return PolicyResult(self.status, str(self.parameters.get("reason", f"always {self.status}")))


class AlwaysActive(_Always):
    """Always Active (parameter ``reason``)."""

    status = _R.ACTIVE


class AlwaysDegraded(_Always):
    """Always Degraded (parameter ``reason``)."""

    status = _R.DEGRADED


class AlwaysProbing(_Always):
    """Always Probing (parameter ``reason``)."""

    status = _R.PROBING


class AlwaysBanned(_Always):
    """Always Banned (parameter ``reason``)."""

    status = _R.BANNED


class DowntimeOngoing(Policy):
    """A downtime now: OUTAGE -> Banned, WARNING -> Degraded, none -> Active; no calendar -> Unknown.

    Downtimes of the element's site (and CE, for a queue) count as the element's.
    """

    horizon = timedelta(0)

    def evaluate(self, element: Any, status_type: StatusType, observations: Observations) -> PolicyResult:
        found = observations.downtimes(element, self.horizon)
        if found is None:
            return PolicyResult(_R.UNKNOWN, "no downtime calendar")
        if not found:
            return PolicyResult(_R.ACTIVE, "no downtime")
        worst = min(found, key=lambda d: (d.severity is not Severity.OUTAGE, d.start))
        status = _R.BANNED if worst.severity is Severity.OUTAGE else _R.DEGRADED
        return PolicyResult(status, f"{worst.severity} of {worst.element} {worst.start:%Y-%m-%d %H:%M}"
                                    f"..{worst.end:%Y-%m-%d %H:%M} UTC {worst.description}".rstrip())


class DowntimeScheduled(DowntimeOngoing):
    """:class:`DowntimeOngoing` looking ``hours`` ahead (default 12; DIRAC's DTScheduled)."""

    def __init__(self, parameters: Mapping[str, Any] | None = None) -> None:
        super().__init__(parameters)
        self.horizon = timedelta(hours=_number(self.parameters, "hours", 12))


class _Efficiency(Policy):
    """Shared thresholds: at or under ``banned_below`` -> Banned, under ``degraded_below`` -> Degraded."""

    window_default: ClassVar[float]

    def __init__(self, parameters: Mapping[str, Any] | None = None) -> None:
        super().__init__(parameters)
        self.window = timedelta(seconds=_number(self.parameters, "window", self.window_default))
        self.minimum = int(_number(self.parameters, "minimum", 10))
        self.banned_below = _number(self.parameters, "banned_below", 0.5)
        self.degraded_below = _number(self.parameters, "degraded_below", 0.9)
        if self.banned_below > self.degraded_below:
            raise ValueError("banned_below must not exceed degraded_below")

    def _judge(self, good: int, total: int, what: str) -> PolicyResult:
        if total < self.minimum:
            return PolicyResult(_R.UNKNOWN, f"only {total} {what} ended (fewer than {self.minimum})")
        efficiency = good / total
        text = f"{what} efficiency {_ratio(efficiency)} ({good} of {total})"
        if efficiency <= self.banned_below:
            return PolicyResult(_R.BANNED, text)
        if efficiency < self.degraded_below:
            return PolicyResult(_R.DEGRADED, text)
        return PolicyResult(_R.ACTIVE, text)


class PilotEfficiency(_Efficiency):
    """Pilots of a CE or queue that ended in the last ``window`` seconds (default 6 h): Done out of
    Done, Failed and Aborted. At most ``banned_below`` (0.5) -> Banned, under ``degraded_below``
    (0.9) -> Degraded; fewer than ``minimum`` (10) pilots -> Unknown."""

    window_default = 6 * 3600.0

    def evaluate(self, element: Any, status_type: StatusType, observations: Observations) -> PolicyResult:
        counts = observations.pilot_counts(element, self.window)
        good = counts.get("Done", 0)
        return self._judge(good, good + counts.get("Failed", 0) + counts.get("Aborted", 0), "pilot")


class JobEfficiency(_Efficiency):
    """Jobs of a site that ended in the last ``window`` seconds (default 1 day): Done and Completed
    out of Done, Completed and Failed; thresholds as :class:`PilotEfficiency`."""

    window_default = 86400.0

    def evaluate(self, element: Any, status_type: StatusType, observations: Observations) -> PolicyResult:
        counts = observations.job_counts(element, self.window)
        good = counts.get("Done", 0) + counts.get("Completed", 0)
        return self._judge(good, good + counts.get("Failed", 0), "job")


_UNITS = {"TB": 1e12, "GB": 1e9, "MB": 1e6}


class FreeSpace(Policy):
    """An SE's free space in ``unit`` (TB, GB or MB; default GB): under ``banned_below`` (0.1) ->
    Banned, under ``degraded_below`` (5) -> Degraded, else Active; Unknown when the SE cannot tell."""

    def __init__(self, parameters: Mapping[str, Any] | None = None) -> None:
        super().__init__(parameters)
        self.unit = str(self.parameters.get("unit", "GB")).upper()
        if self.unit not in _UNITS:
            raise ValueError(f"policy parameter 'unit' must be one of {', '.join(_UNITS)}, not {self.unit!r}")
        self.banned_below = _number(self.parameters, "banned_below", 0.1)
        self.degraded_below = _number(self.parameters, "degraded_below", 5)

    def evaluate(self, element: Any, status_type: StatusType, observations: Observations) -> PolicyResult:
        occupancy = observations.occupancy(element)
        if occupancy is None:
            return PolicyResult(_R.UNKNOWN, "free space unknown")
        free = max(occupancy.free, 0) / _UNITS[self.unit]
        text = f"{free:.3g} {self.unit} free"
        if free < self.banned_below:
            return PolicyResult(_R.BANNED, f"too little free space: {text}")
        if free < self.degraded_below:
            return PolicyResult(_R.DEGRADED, f"little free space: {text}")
        return PolicyResult(_R.ACTIVE, text)


class SETestTransfer(Policy):
    """The SE's last test transfer, per access: WriteAccess from the write, ReadAccess and
    CheckAccess from the read, RemoveAccess from the removal. Failed -> Banned, worked -> Active;
    not tried, no test yet or older than ``max_age`` seconds (default 3 h) -> Unknown."""

    _STEP: ClassVar[dict[StatusType, str]] = {StatusType.WRITE: "write_ok", StatusType.READ: "read_ok",
                                               StatusType.CHECK: "read_ok", StatusType.REMOVE: "remove_ok"}

    def __init__(self, parameters: Mapping[str, Any] | None = None) -> None:
        super().__init__(parameters)
        self.max_age = timedelta(seconds=_number(self.parameters, "max_age", 3 * 3600))

    def evaluate(self, element: Any, status_type: StatusType, observations: Observations) -> PolicyResult:
        step = self._STEP.get(status_type)
        test = observations.transfer_test(element)
        if step is None or test is None:
            return PolicyResult(_R.UNKNOWN, "no test transfer")
        if observations.now - test.checked > self.max_age:
            return PolicyResult(_R.UNKNOWN, f"last test transfer is old ({test.checked:%Y-%m-%d %H:%M} UTC)")
        outcome = getattr(test, step)
        name = step.removesuffix("_ok")
        if outcome is None:
            return PolicyResult(_R.UNKNOWN, f"test {name} not tried: {test.error}")
        if not outcome:
            return PolicyResult(_R.BANNED, f"test {name} failed: {test.error}")
        return PolicyResult(_R.ACTIVE, f"test {name} worked")


class Propagation(Policy):
    """A site from its resources of ``element_types`` (default ``["ComputingElement"]``; add
    ``"StorageElement"`` to count every access of its SEs): any Active -> Active, else any
    Degraded -> Degraded, else any Probing -> Probing, else Banned. Resources without a status (or
    Unknown) do not count; none counted -> Unknown."""

    def __init__(self, parameters: Mapping[str, Any] | None = None) -> None:
        super().__init__(parameters)
        raw = self.parameters.get("element_types", ("ComputingElement",))
        types = (raw,) if isinstance(raw, str) else tuple(raw)
        self.element_types = frozenset(ElementType(t) for t in types)  # ValueError for a bad name

    def evaluate(self, element: Any, status_type: StatusType, observations: Observations) -> PolicyResult:
        seen: list[ResourceStatus] = []
        for member in observations.members(element):
            if member.element_type in self.element_types:
                for member_type in member.status_types:
                    status = observations.status(member, member_type)
                    if status is not None and status is not _R.UNKNOWN:
                        seen.append(status)
        if not seen:
            return PolicyResult(_R.UNKNOWN, "no resource with a status")
        for status in (_R.ACTIVE, _R.DEGRADED, _R.PROBING):
            if status in seen:
                return PolicyResult(status, f"{seen.count(status)} of {len(seen)} resources {status}")
        return PolicyResult(_R.BANNED, f"none of {len(seen)} resources usable")

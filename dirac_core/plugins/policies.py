"""The policy contract: what a resource status policy reads and what it answers.

A policy is a driver of ``dirac.policies`` (``AlwaysActive``, ``DowntimeOngoing``,
``PilotEfficiency``, ...), built once from its ``parameters`` (a bad one raises ``ValueError`` in
the constructor, so a configuration is checked when it is loaded into the engine). For each
element (and each of its status types) :meth:`Policy.evaluate` gets the element and the
:class:`Observations` and returns a :class:`PolicyResult`. Policies are pure: all they know comes
through ``observations``, which loads each kind of data once per evaluation pass.

Answering Unknown means "no information" (it only wins when no other policy says anything);
raising means the policy could not decide: the engine reports it as an Error entry and the
element keeps its status unless another policy decides. Built-ins: :mod:`dirac_core.rss.policies`.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Protocol

import attrs

from dirac_core.model.resource_status import (
    Downtime,
    Element,
    ResourceStatus,
    StatusType,
    TransferTest,
)
from dirac_core.plugins.driver import Driver
from dirac_core.plugins.storage import Occupancy

__all__ = ["Observations", "Policy", "PolicyResult"]


@attrs.frozen
class PolicyResult:
    """A policy's answer: the status it asks for and why."""

    status: ResourceStatus = attrs.field(converter=ResourceStatus)
    reason: str = ""


class Observations(Protocol):
    """What policies may know; each method reads its data once per evaluation pass."""

    @property
    def now(self) -> datetime:
        """The time of the evaluation."""

    def downtimes(self, element: Element, horizon: timedelta) -> list[Downtime] | None:
        """The element's (and its site's) downtimes ongoing now or starting within ``horizon``;
        None without a calendar; raises when the calendar cannot be read."""

    def pilot_counts(self, element: Element, window: timedelta) -> Mapping[str, int]:
        """Pilots of a CE or queue updated within ``window``, counted by pilot status."""

    def job_counts(self, element: Element, window: timedelta) -> Mapping[str, int]:
        """Jobs of a site updated within ``window``, counted by job status."""

    def occupancy(self, element: Element) -> Occupancy | None:
        """An SE's free (and total) bytes, None when it cannot tell."""

    def transfer_test(self, element: Element) -> TransferTest | None:
        """An SE's last test transfer, None before the first."""

    def members(self, site: Element) -> list[Element]:
        """The CEs and SEs of a site."""

    def status(self, element: Element, status_type: StatusType = StatusType.ALL) -> ResourceStatus | None:
        """An element's current status (as updated earlier in this pass), None when it has none."""


class Policy(Driver):
    """Decides the status of an element from observations; ``parameters`` come from the config."""

    def __init__(self, parameters: Mapping[str, Any] | None = None) -> None:
        self.parameters = dict(parameters or {})

    @abstractmethod
    def evaluate(self, element: Element, status_type: StatusType,
                 observations: Observations) -> PolicyResult:
        """The status ``element`` should have for ``status_type``; raise when it cannot tell."""

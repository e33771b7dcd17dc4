"""The computing-element contract: where pilots are sent.

A driver is built from its configuration section and submits *pilots*, not
jobs: the pilot then pulls work from the matcher. Drivers are synchronous
and may be used from several threads; they release connections in
:meth:`ComputingElement.close` (also a context manager).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence

from attrs import frozen

from dirac_core.errors import BulkResult
from dirac_core.model.pilot import PilotStatus
from dirac_core.plugins.driver import Driver

__all__ = ["CEStatus", "ComputingElement", "free_slots"]


@frozen(kw_only=True)
class CEStatus:
    """What a CE (or its queue) reports about our pilots there."""

    running: int
    waiting: int
    available_processors: int | None = None


def free_slots(status: CEStatus, *, max_total: int, max_waiting: int) -> int:
    """How many more pilots may be submitted (DIRAC's rule).

    None when running + waiting reaches ``max_total`` or waiting reaches
    ``max_waiting``; otherwise fill the waiting allowance without passing the
    total, and never more than the free processors when the CE reports them.
    """
    total = status.running + status.waiting
    if total >= max_total or status.waiting >= max_waiting:
        return 0
    slots = min(max_waiting - status.waiting, max_total - total)
    if status.available_processors is not None:
        slots = min(slots, status.available_processors)
    return max(slots, 0)


class ComputingElement(Driver):
    """Submit, follow and cancel pilots on one computing resource.

    References returned by :meth:`submit` are opaque strings, unique per CE,
    that the other methods take back.
    """

    @abstractmethod
    def submit(self, executable: str, stamps: Sequence[str]) -> BulkResult[str, str]:
        """Submit one pilot per stamp running ``executable`` (a script's text).

        Returns, per stamp, the CE's reference of the submitted pilot.
        """

    @abstractmethod
    def status(self, references: Sequence[str]) -> BulkResult[str, PilotStatus]:
        """The current status of each pilot; an unknown reference fails with ``NotFound``."""

    @abstractmethod
    def kill(self, references: Sequence[str]) -> BulkResult[str, None]:
        """Cancel pilots; killing a finished pilot succeeds."""

    @abstractmethod
    def output(self, reference: str) -> tuple[str, str]:
        """The pilot's standard output and error, as far as the CE still has them."""

    @abstractmethod
    def ce_status(self) -> CEStatus:
        """Our running and waiting pilots on this CE."""

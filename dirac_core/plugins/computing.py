"""The computing-element contract: where pilots are sent.

A driver is built from its configuration section and submits *pilots*, not
jobs: the pilot then pulls work from the matcher. Drivers are synchronous
and may be used from several threads; they release connections in
:meth:`ComputingElement.close` (also a context manager).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING, Self

from attrs import frozen

from dirac_core.errors import BulkResult, PluginError
from dirac_core.model.pilot import PilotStatus
from dirac_core.plugins.driver import Driver

if TYPE_CHECKING:
    from dirac_core.config.queues import Queue
    from dirac_core.config.sections import CESection

__all__ = ["CEContext", "CEStatus", "ComputingElement", "free_slots"]


@frozen(kw_only=True)
class CEContext:
    """What the caller hands a CE built from configuration, besides its section.

    ``work_dir`` is a private folder of this machine for the CE's files
    (pilot scripts, recorded outputs); ``proxy_file`` and ``token_file``
    are credentials for CEs that need them.
    """

    work_dir: str
    proxy_file: str | None = None
    token_file: str | None = None


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
    that the other methods take back. A driver serves one queue of one CE.
    """

    @classmethod
    def from_section(cls, section: CESection, queue: Queue, context: CEContext) -> Self:
        """Build the driver for ``queue`` of the CE configured by ``section``."""
        raise PluginError(f"{cls.__name__} cannot be built from a configuration section",
                          driver=cls.__name__)

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

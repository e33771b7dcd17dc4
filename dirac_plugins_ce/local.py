"""The local computing element: pilots as processes of this machine.

It is the batch CE with the ``fork`` batch system and the ``local`` transport,
plus a cap on how many pilots run at once (``max_slots``, default: the number
of cores). The embedded interware's site director sends its pilots here.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Self

from dirac_core.errors import BulkResult, CEError
from dirac_core.plugins.computing import CEContext, CEStatus
from dirac_plugins_ce.batch.fork import Fork
from dirac_plugins_ce.batch_ce import BatchComputingElement
from dirac_plugins_ce.transports.local import LocalTransport

if TYPE_CHECKING:
    from dirac_core.config.queues import Queue
    from dirac_core.config.sections import CESection

__all__ = ["LocalComputingElement"]


class LocalComputingElement(BatchComputingElement):
    """Pilots as background processes writing into ``work_dir``, at most ``max_slots`` at once."""

    def __init__(self, *, name: str = "localhost", work_dir: str, max_slots: int | None = None) -> None:
        super().__init__(name=name, batch=Fork(), transport=LocalTransport(), work_dir=work_dir)
        self.max_slots = max_slots or os.cpu_count() or 1

    @classmethod
    def from_section(cls, section: CESection, queue: Queue, context: CEContext) -> Self:
        """``work_dir`` and ``max_slots`` from a ``type = "local"`` section (defaults: the
        context's folder, the number of cores)."""
        work = getattr(section, "work_dir", None) or os.path.join(context.work_dir, section.name)
        return cls(name=section.name, work_dir=work, max_slots=getattr(section, "max_slots", None))

    def submit(self, executable: str, stamps: Sequence[str]) -> BulkResult[str, str]:
        """Start pilots while slots are free; the others fail with ``CEError``."""
        with self._lock:
            active = [ref for ref, seen in self._known.items() if not seen.is_final]
        if active:
            self.status(active)  # pilots that ended free their slots
        status = self.ce_status()
        room = max(0, self.max_slots - status.running - status.waiting)
        result = super().submit(executable, stamps[:room])
        for stamp in stamps[room:]:
            result.add_failed(stamp, CEError(f"{self.name}: all {self.max_slots} slots are busy"))
        return result

    def ce_status(self) -> CEStatus:
        counted = super().ce_status()
        free = max(0, self.max_slots - counted.running - counted.waiting)
        return CEStatus(running=counted.running, waiting=counted.waiting, available_processors=free)

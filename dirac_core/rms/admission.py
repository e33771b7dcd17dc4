"""Whether an operation may run now: the access of its SEs, and free slots at its target SEs.

- :func:`check_storage` looks at each SE an operation needs (its handler's
  :meth:`~dirac_core.plugins.operations.OperationHandler.storage_access`): an SE the configuration
  does not know can never work (the executor fails the files), one whose access is not allowed
  now (Banned, Probing; DIRAC's "temporarily banned") makes the request wait untouched.
- :class:`TargetSlots` counts the operations in flight per target SE, so that at most ``limit``
  run at once against one SE and a slow site never holds every thread of the executor.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping

import attrs

from dirac_core.dms.storage_element import Access, StorageElements
from dirac_core.errors import DiracError

__all__ = ["StorageVerdict", "TargetSlots", "check_storage"]


@attrs.frozen
class StorageVerdict:
    """``unknown``: SEs missing from the configuration; ``refused``: why each other SE that refuses
    the access needed says no now. An operation may run when both are empty."""

    unknown: tuple[str, ...] = ()
    refused: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the operation may run."""
        return not self.unknown and not self.refused


def check_storage(storage: StorageElements, needs: Mapping[str, str | None]) -> StorageVerdict:
    """Check the SEs ``needs`` names for the access each needs (None: only that it exists)."""
    known = set(storage.names())
    unknown = tuple(sorted(se for se in needs if se not in known))
    refused = []
    for se, access in sorted(needs.items()):
        if se not in known or access is None:
            continue
        kind = Access(access)
        try:
            element = storage[se]
            allowed = element.allows(kind)
            reason = f"{se} is {element.status(kind)} for {kind}"
        except DiracError as exc:  # a driver that cannot be built now: try again later
            allowed, reason = False, f"{se}: {exc}"
        if not allowed:
            refused.append(reason)
    return StorageVerdict(unknown, tuple(refused))


class TargetSlots:
    """In-flight operations per target SE, at most ``limit`` each (thread-safe)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def acquire(self, ses: Iterable[str]) -> bool:
        """Take a slot at every SE of ``ses``, or none (False) when one of them is full."""
        wanted = set(ses)
        with self._lock:
            if any(self._counts[se] >= self.limit for se in wanted):
                return False
            self._counts.update(wanted)
        return True

    def release(self, ses: Iterable[str]) -> None:
        """Give back the slots taken by :meth:`acquire`."""
        with self._lock:
            self._counts.subtract(set(ses))
            for se in [se for se, n in self._counts.items() if n <= 0]:
                del self._counts[se]

    def in_flight(self) -> dict[str, int]:
        """The operations in flight per SE now."""
        with self._lock:
            return dict(self._counts)

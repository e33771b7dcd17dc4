"""Pausing Python's cyclic garbage collector around a large bulk call.

A bulk call (10,000 jobs submitted at once) allocates its rows faster than the
collector's thresholds expect: the young generations fill hundreds of times,
and the rows, alive until the call has written them, are promoted until two or
three full collections run, each walking every object of the process.
Measured on a 10,000-job submission on SQLite: 171 to 314 ms of 1.4 to 1.6 s.
While paused, reference counting still frees every object that is not in a
cycle, the rows included, as soon as the call drops them; only cycles wait.

The collector is global to the process, so the pauses are counted: it resumes
when the last overlapping paused call ends, and only if it was running when
the first began (a program that turned it off keeps it off). Overlapping calls
that never all end at once would starve it, so a call ending after the
collector has been paused for ``max_pause`` runs one collection itself.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

__all__ = ["GcPauses", "gc_paused"]

#: below this many items a bulk call does not pause the collector (it would not have run much)
BULK = 1_000


class GcPauses:
    """The pauses of one process's collector (the module holds the one :func:`gc_paused` uses)."""

    def __init__(self, *, max_pause: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._resume = False
        self._since = 0.0
        self._max_pause = max_pause
        self._clock = clock
        self.forced = 0  #: collections run because a pause lasted over ``max_pause`` (for tests)

    @contextmanager
    def paused(self, items: int) -> Iterator[None]:
        """Pause the collector for the block when ``items`` >= :data:`BULK`; otherwise do nothing."""
        if items < BULK:
            yield
            return
        with self._lock:
            if self._depth == 0:
                self._resume = gc.isenabled()
                self._since = self._clock()
                gc.disable()
            self._depth += 1
        try:
            yield
        finally:
            self._end()

    def _end(self) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                if self._resume:
                    gc.enable()
                return
            overdue = self._clock() - self._since >= self._max_pause
            if overdue:
                self._since = self._clock()
        if overdue:  # outside the lock: a collection takes a while
            self.forced += 1
            gc.collect()


_PAUSES = GcPauses()


def gc_paused(items: int) -> AbstractContextManager[None]:
    """``with gc_paused(len(jobs)):`` pauses the collector around a bulk call of ``items`` items."""
    return _PAUSES.paused(items)

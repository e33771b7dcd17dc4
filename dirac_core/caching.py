"""A value refreshed in the background of its callers: one refresh at a time, never a stampede.

DIRAC's limiter recomputed its counters in every caller when the cache
expired at once (DIRAC#7907). :class:`SingleFlight` lets exactly one caller
refresh an expired value while the others keep using the previous one; only
the very first load makes callers wait.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from dirac_core.model.clock import Clock

__all__ = ["SingleFlight"]

T = TypeVar("T")


class SingleFlight(Generic[T]):
    """Holds a value computed by ``load``, refreshed at most every ``ttl``."""

    def __init__(self, load: Callable[[], T], *, ttl: timedelta, clock: Clock) -> None:
        self._load = load
        self._ttl = ttl
        self._clock = clock
        self._value: T | None = None
        self._loaded_at: datetime | None = None
        self._refreshing = threading.Lock()
        self.loads = 0  # how many times ``load`` ran (for tests and metrics)

    def get(self) -> T:
        """The value; refreshed by this caller only if stale and nobody else is refreshing."""
        loaded_at = self._loaded_at
        if loaded_at is not None and self._clock.now() - loaded_at < self._ttl:
            return self._value  # type: ignore[return-value]
        if loaded_at is None:
            with self._refreshing:  # first load: everybody waits for one loader
                if self._loaded_at is None:
                    self._refresh()
            return self._value  # type: ignore[return-value]
        if self._refreshing.acquire(blocking=False):
            try:
                if self._loaded_at is loaded_at:
                    self._refresh()
            finally:
                self._refreshing.release()
        return self._value  # type: ignore[return-value]

    def invalidate(self) -> None:
        """Make the next :meth:`get` refresh (keeping the old value for concurrent callers)."""
        if self._loaded_at is not None:
            self._loaded_at = self._loaded_at - self._ttl

    def _refresh(self) -> None:
        value = self._load()
        self.loads += 1
        self._value = value
        self._loaded_at = self._clock.now()

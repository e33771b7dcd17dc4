"""Time as a dependency: every engine takes a :class:`Clock`.

:class:`SystemClock` reads the real time; :class:`FakeClock` only moves when
told to, so tests and the simulator control time exactly. Both return
timezone-aware UTC datetimes, never naive ones.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FakeClock", "SystemClock", "ensure_utc"]


def ensure_utc(value: datetime, *, name: str = "timestamp") -> datetime:
    """Return ``value`` converted to UTC; a naive datetime is refused with ``ValueError``.

    Naive datetimes are ambiguous (local time? UTC?) and DIRAC's habit of
    storing them led to hour-shifted histories, so they never enter the model.
    """
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
        raise ValueError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value.astimezone(UTC)


@runtime_checkable
class Clock(Protocol):
    """What engines need of time."""

    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin, never going backwards."""

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` (a fake clock just advances)."""


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def __repr__(self) -> str:
        return "SystemClock()"


class FakeClock:
    """A clock that moves only through :meth:`advance`, :meth:`set` or :meth:`sleep`.

    Thread-safe, so a test can drive several engines from threads.
    """

    DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)

    def __init__(self, start: datetime | None = None) -> None:
        self._now = ensure_utc(start, name="start") if start else self.DEFAULT_START
        self._origin = self._now
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return (self._now - self._origin).total_seconds()

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

    def advance(self, seconds: float | timedelta) -> datetime:
        """Move forward by ``seconds`` (a negative step is refused) and return the new time."""
        step = seconds if isinstance(seconds, timedelta) else timedelta(seconds=seconds)
        if step < timedelta(0):
            raise ValueError(f"a clock does not go backwards ({step})")
        with self._lock:
            self._now += step
            return self._now

    def set(self, when: datetime) -> None:
        """Jump to ``when``, which must not be earlier than now."""
        when = ensure_utc(when, name="when")
        with self._lock:
            if when < self._now:
                raise ValueError(f"a clock does not go backwards ({when} < {self._now})")
            self._now = when

    def __repr__(self) -> str:
        return f"FakeClock({self._now.isoformat()})"

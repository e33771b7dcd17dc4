from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta, timezone

import pytest

from dirac_core.model import Clock, FakeClock, SystemClock, ensure_utc, new_uuid, uuid_time


def test_ensure_utc_converts_and_refuses_naive() -> None:
    paris = timezone(timedelta(hours=1))
    assert ensure_utc(datetime(2026, 3, 1, 13, 0, tzinfo=paris)) == datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    assert ensure_utc(datetime(2026, 3, 1, 13, 0, tzinfo=paris)).tzinfo is UTC
    with pytest.raises(ValueError, match="heartbeat must be timezone-aware"):
        ensure_utc(datetime(2026, 3, 1), name="heartbeat")


def test_system_clock_is_aware_utc() -> None:
    clock = SystemClock()
    assert isinstance(clock, Clock)
    assert clock.now().tzinfo is UTC


def test_fake_clock_moves_only_when_told() -> None:
    clock = FakeClock(datetime(2026, 5, 1, tzinfo=UTC))
    assert isinstance(clock, Clock)
    first = clock.now()
    assert clock.now() == first
    clock.advance(90)
    clock.sleep(10)
    assert clock.now() - first == timedelta(seconds=100)
    assert clock.monotonic() == 100.0
    clock.set(datetime(2026, 6, 1, tzinfo=UTC))
    assert clock.now().month == 6


def test_fake_clock_refuses_going_back_and_naive_times() -> None:
    clock = FakeClock()
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(-1)
    with pytest.raises(ValueError, match="backwards"):
        clock.set(clock.now() - timedelta(seconds=1))
    with pytest.raises(ValueError, match="timezone-aware"):
        FakeClock(datetime(2026, 1, 1))


def test_fake_clock_is_thread_safe() -> None:
    clock = FakeClock()
    start = clock.now()
    def tick() -> None:
        for _ in range(1000):
            clock.advance(1)

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert clock.now() - start == timedelta(seconds=4000)


def test_uuid7_is_time_ordered_and_carries_its_time() -> None:
    clock = FakeClock()
    ids = []
    for _ in range(50):
        ids.append(new_uuid(clock.now()))
        clock.advance(0.002)
    assert ids == sorted(ids)
    assert all(u.version == 7 and u.variant == uuid.RFC_4122 for u in ids)
    assert uuid_time(ids[0]) == int(FakeClock.DEFAULT_START.timestamp() * 1000)
    assert len({new_uuid(clock.now()) for _ in range(1000)}) == 1000
    with pytest.raises(ValueError, match="version-7"):
        uuid_time(uuid.uuid4())

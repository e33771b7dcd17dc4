"""SingleFlight: one refresh at a time, stale values served meanwhile, no stampede."""

from __future__ import annotations

import threading
from datetime import timedelta

from dirac_core.caching import SingleFlight
from dirac_core.model import FakeClock


def test_value_is_loaded_once_per_interval(fake_clock: FakeClock) -> None:
    values = iter(range(100))
    cache = SingleFlight(lambda: next(values), ttl=timedelta(seconds=10), clock=fake_clock)
    assert [cache.get() for _ in range(5)] == [0] * 5
    fake_clock.advance(10)
    assert cache.get() == 1 and cache.get() == 1
    cache.invalidate()
    assert cache.get() == 2
    assert cache.loads == 3


def test_concurrent_callers_of_a_stale_value_trigger_one_refresh(fake_clock: FakeClock) -> None:
    release = threading.Event()
    entered = threading.Event()
    calls = []

    def load() -> int:
        calls.append(1)
        if len(calls) == 2:  # the refresh: hold it until the others have read
            entered.set()
            release.wait(5)
        return len(calls)

    cache = SingleFlight(load, ttl=timedelta(seconds=10), clock=fake_clock)
    assert cache.get() == 1
    fake_clock.advance(11)
    refresher = threading.Thread(target=cache.get)
    refresher.start()
    assert entered.wait(5)
    seen = [cache.get() for _ in range(20)]  # while the refresh runs: the old value, no new load
    release.set()
    refresher.join(5)
    assert seen == [1] * 20
    assert len(calls) == 2 and cache.get() == 2

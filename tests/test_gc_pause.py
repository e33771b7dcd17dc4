"""The collector pauses around large bulk calls, resumes when the last one ends, keeps a program's
own choice, and is not starved by calls that keep overlapping."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from dirac_core.gc_pause import BULK, GcPauses


@pytest.fixture(autouse=True)
def _collector_back_on() -> Iterator[None]:
    was = gc.isenabled()
    yield
    if was:
        gc.enable()


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bulk_call_pauses_and_a_small_one_does_not() -> None:
    pauses = GcPauses()
    with pauses.paused(BULK - 1):
        assert gc.isenabled()
    with pauses.paused(BULK):
        assert not gc.isenabled()
    assert gc.isenabled()


def test_overlapping_calls_resume_when_the_last_ends() -> None:
    pauses = GcPauses()
    first = pauses.paused(BULK)
    second = pauses.paused(BULK)
    first.__enter__()
    second.__enter__()
    first.__exit__(None, None, None)
    assert not gc.isenabled()  # the second is still running
    second.__exit__(None, None, None)
    assert gc.isenabled()


def test_an_error_in_the_call_still_resumes() -> None:
    pauses = GcPauses()
    with pytest.raises(RuntimeError, match="boom"), pauses.paused(BULK):
        raise RuntimeError("boom")
    assert gc.isenabled()


def test_a_program_that_turned_the_collector_off_keeps_it_off() -> None:
    gc.disable()
    with GcPauses().paused(BULK):
        pass
    assert not gc.isenabled()


def test_overlapping_calls_that_never_all_end_collect_after_max_pause() -> None:
    clock = Clock()
    pauses = GcPauses(max_pause=5.0, clock=clock)
    long_one = pauses.paused(BULK)
    long_one.__enter__()
    with pauses.paused(BULK):
        clock.now += 4.9
    assert pauses.forced == 0  # not overdue yet
    with pauses.paused(BULK):
        clock.now += 0.2
    assert pauses.forced == 1  # 5.1 s paused: this call collected on its way out
    with pauses.paused(BULK):
        clock.now += 1.0
    assert pauses.forced == 1  # the count of the pause started again at that collection
    assert not gc.isenabled()
    long_one.__exit__(None, None, None)
    assert gc.isenabled()

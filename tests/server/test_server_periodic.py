"""The server sweeps the interware's periodic tasks on a thread, and stops with the app."""

from __future__ import annotations

import threading
from datetime import timedelta

from fastapi.testclient import TestClient

from dirac_core.interware import Interware
from dirac_core.model import FakeClock
from dirac_server import ServerSettings, create_app


class Probe:
    """A periodic task that says when it ran (and fails the first time)."""

    name = "test.probe"
    interval = timedelta(seconds=1)

    def __init__(self) -> None:
        self.runs = 0
        self.ran = [threading.Event(), threading.Event()]

    def run_once(self) -> int:
        self.runs += 1
        self.ran[min(self.runs, 2) - 1].set()
        if self.runs == 1:
            raise RuntimeError("first sweep fails")
        return 1


def test_the_server_runs_due_tasks_until_it_stops(iw: Interware, fake_clock: FakeClock) -> None:
    probe = Probe()
    iw.add_task(probe)
    app = create_app(iw, ServerSettings(tasks_every=0.01))
    with TestClient(app):
        assert probe.ran[0].wait(timeout=30), "the task thread never ran the task"
        for _ in range(600):  # make it due again until it runs: the failed run did not stop the thread
            fake_clock.advance(timedelta(seconds=2))
            if probe.ran[1].wait(timeout=0.05):
                break
        assert probe.ran[1].is_set(), "the task thread never ran the task again"
        thread = app.state.tasks
    assert thread is not None and not thread._thread.is_alive()


def test_no_task_thread_unless_asked(iw: Interware) -> None:
    app = create_app(iw)
    with TestClient(app):
        assert app.state.tasks is None

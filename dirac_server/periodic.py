"""The server hosts the interware's periodic tasks: a thread sweeps the scheduler.

Replicas may all run it: each task runs once per interval across them (the
scheduler's leases). A failing sweep is logged and the next one goes on.
"""

from __future__ import annotations

import logging
import threading

from dirac_core.tasks import TaskScheduler

__all__ = ["TaskThread"]

log = logging.getLogger(__name__)


class TaskThread:
    """Call ``scheduler.run_due()`` every ``every`` seconds until :meth:`stop`."""

    def __init__(self, scheduler: TaskScheduler, every: float) -> None:
        self.scheduler = scheduler
        self.every = every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="dirac-tasks", daemon=True)
        self.sweeps = 0

    def start(self) -> None:
        """Start sweeping (the first sweep at once)."""
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.scheduler.run_due()
            except Exception:  # one bad sweep must not end the thread
                log.exception("periodic tasks: sweep failed")
            self.sweeps += 1
            self._stop.wait(self.every)

    def stop(self) -> None:
        """Stop and wait for the current sweep to end."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

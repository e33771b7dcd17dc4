"""The request system's periodic tasks: execution, and cleaning of the request store.

- :class:`RequestExecutionTask` (``rms.execution``): one executor cycle that does not wait for
  the requests it starts (a slow transfer never holds the server's task loop; they carry over).
- :class:`RequestCleaningTask` (``rms.cleaning``): requests held Assigned longer than
  ``stuck_after`` go back to Waiting (their executor died), Done requests older than
  ``keep_done`` are deleted (and Failed and Canceled ones with ``clean_failed``), like DIRAC's
  CleanReqDBAgent.
"""

from __future__ import annotations

from datetime import timedelta

import attrs

from dirac_core.config.requests import RequestSettings
from dirac_core.rms.executor import RequestExecutor
from dirac_core.rms.store import RequestStore

__all__ = ["RequestCleaningTask", "RequestExecutionTask"]


@attrs.define
class RequestExecutionTask:
    """The executor as a periodic task; ``run_once`` returns how many requests it started."""

    executor: RequestExecutor
    interval: timedelta = timedelta(minutes=1)
    name: str = "rms.execution"

    def run_once(self) -> int:
        """One cycle, without waiting for the requests it starts."""
        return len(self.executor.run_once(wait=False).started)


@attrs.define
class RequestCleaningTask:
    """Kicks stuck requests and deletes old final ones; ``run_once`` returns how many of each."""

    store: RequestStore
    settings: RequestSettings = attrs.field(factory=RequestSettings)
    interval: timedelta = timedelta(hours=1)
    name: str = "rms.cleaning"

    def run_once(self) -> dict[str, int]:
        """``{"kicked": n, "deleted": m}``."""
        kicked = self.store.kick_stuck(timedelta(seconds=self.settings.stuck_after))
        deleted = self.store.clean(timedelta(seconds=self.settings.keep_done),
                                   failed_too=self.settings.clean_failed)
        return {"kicked": kicked, "deleted": deleted}

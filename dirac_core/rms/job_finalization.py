"""A job whose requests are all over gets its final status (DIRAC's ``finalizeRequest``).

A job wrapper that left work in requests (outputs on a failover SE, a registration to redo)
ends the job ``Completed`` with a minor status saying what should follow. When the last request
of the job becomes final, :class:`JobFinalizer` moves the job on, with minor status
``Requests done`` and the source ``RequestExecutor``:

- every request Done: ``Pending Requests`` -> Done, ``Application Finished With Errors`` ->
  Failed, ``Marked for termination`` -> Killed (DIRAC's rules);
- a request Failed or Canceled: Failed, minor status ``Requests failed`` (DIRAC leaves such a
  job Completed for ever; here it ends, saying why).

A job in any other status is left as it is (it ended Done or Failed by itself, or it is still
running). The update is stamped after the job's latest recorded status, so it is applied even
when the clocks of the node that reported and of this executor disagree.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from dirac_core.model.clock import Clock
from dirac_core.model.job import JobStatus
from dirac_core.model.request import FINAL_REQUEST, RequestStatus
from dirac_core.rms.store import RequestStore
from dirac_core.wms.status_updates import StatusUpdate

if TYPE_CHECKING:
    from dirac_core.wms.engine import WorkloadManager

__all__ = ["AFTER_REQUESTS", "JobFinalizer"]

log = logging.getLogger(__name__)

#: a Completed job's minor status -> its status once its requests are Done
AFTER_REQUESTS: dict[str, JobStatus] = {
    "Pending Requests": JobStatus.DONE,
    "Application Finished With Errors": JobStatus.FAILED,
    "Marked for termination": JobStatus.KILLED,
}
SOURCE = "RequestExecutor"


class JobFinalizer:
    """Finalizes the jobs of finished requests through the workload manager."""

    def __init__(self, *, store: RequestStore, wms: WorkloadManager, clock: Clock) -> None:
        self.store = store
        self.wms = wms
        self.clock = clock

    def finalize(self, job_id: int) -> JobStatus | None:
        """Move ``job_id`` on when all its requests are final; the new status, or None."""
        ids = self.store.for_jobs([job_id]).get(job_id, [])
        statuses = self.store.status(ids)
        if not statuses or any(s not in FINAL_REQUEST for s in statuses.values()):
            return None
        job = self.wms.get_jobs([job_id]).get(job_id)
        if job is None or job["status"] is not JobStatus.COMPLETED:
            return None
        if all(s is RequestStatus.DONE for s in statuses.values()):
            new = AFTER_REQUESTS.get(job["minor_status"])
            minor = "Requests done"
            if new is None:
                log.warning("job %s: Completed with minor status %r, not finalized", job_id,
                            job["minor_status"])
                return None
        else:
            new, minor = JobStatus.FAILED, "Requests failed"
        update = StatusUpdate(status=new, minor_status=minor, source=SOURCE)
        # Completed -> Killed is outside the job state machine: the request system decides here
        result = self.wms.set_status({job_id: {self._stamp(job_id): update}}, force=new is JobStatus.KILLED)
        state = result.ok.get(job_id)
        return state.status if state is not None and state.status is new else None

    def _stamp(self, job_id: int) -> datetime:
        now = self.clock.now()
        history = self.wms.history(job_id)
        latest = max((row["status_time"] for row in history), default=now)
        return max(now, latest + timedelta(microseconds=1))

"""Job statuses and DIRAC's job state machine, as a transition table.

The table is DIRAC's (``JobsStateMachine``) with one deliberate fix: a
Deleted job is final. DIRAC lets a non-forced update move a Deleted job
anywhere, because its ``Deleted`` state has no default; we refuse it.
"""

from __future__ import annotations

from enum import StrEnum

from dirac_core.model.status import make_table

__all__ = ["FINAL_JOB_STATUSES", "JOB_TRANSITIONS", "JobStatus"]


class JobStatus(StrEnum):
    """Where a job is in its life (DIRAC's names, ordered by DIRAC's level)."""

    SUBMITTING = "Submitting"
    RECEIVED = "Received"
    CHECKING = "Checking"
    SCOUTING = "Scouting"
    STAGING = "Staging"
    WAITING = "Waiting"
    MATCHED = "Matched"
    RESCHEDULED = "Rescheduled"
    RUNNING = "Running"
    STALLED = "Stalled"
    COMPLETING = "Completing"
    COMPLETED = "Completed"
    DONE = "Done"
    FAILED = "Failed"
    KILLED = "Killed"
    DELETED = "Deleted"

    @property
    def is_final(self) -> bool:
        """Done, Completed, Failed and Killed (and Deleted): the payload will not run again by itself."""
        return self in FINAL_JOB_STATUSES or self is JobStatus.DELETED


_J = JobStatus
JOB_TRANSITIONS = make_table(JobStatus, {
    _J.SUBMITTING: (_J.RECEIVED, _J.CHECKING, _J.DELETED, _J.KILLED),
    _J.RECEIVED: (_J.SCOUTING, _J.CHECKING, _J.WAITING, _J.FAILED, _J.DELETED, _J.KILLED),
    _J.CHECKING: (_J.SCOUTING, _J.STAGING, _J.WAITING, _J.RESCHEDULED, _J.FAILED, _J.DELETED, _J.KILLED),
    _J.SCOUTING: (_J.CHECKING, _J.FAILED, _J.STALLED, _J.KILLED),
    _J.STAGING: (_J.CHECKING, _J.WAITING, _J.FAILED, _J.KILLED),
    _J.WAITING: (_J.MATCHED, _J.RESCHEDULED, _J.DELETED, _J.KILLED),
    _J.MATCHED: (_J.RUNNING, _J.FAILED, _J.RESCHEDULED, _J.KILLED),
    _J.RESCHEDULED: (_J.WAITING, _J.RECEIVED, _J.DELETED, _J.FAILED, _J.KILLED),
    _J.RUNNING: (_J.STALLED, _J.DONE, _J.FAILED, _J.RESCHEDULED, _J.COMPLETING, _J.KILLED, _J.RECEIVED),
    _J.STALLED: (_J.RUNNING, _J.FAILED, _J.KILLED),
    _J.COMPLETING: (_J.DONE, _J.FAILED, _J.COMPLETED, _J.STALLED, _J.KILLED),
    _J.COMPLETED: (_J.DONE, _J.FAILED),
    _J.DONE: (_J.DELETED,),
    _J.FAILED: (_J.RESCHEDULED, _J.DELETED),
    _J.KILLED: (_J.DELETED,),
    _J.DELETED: (),
})

#: DIRAC's JOB_FINAL_STATES.
FINAL_JOB_STATUSES: frozenset[JobStatus] = frozenset(
    {JobStatus.DONE, JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.KILLED})

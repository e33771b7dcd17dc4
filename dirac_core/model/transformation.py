"""Transformation, transformation-file and task statuses, and the rules that move files.

The names are DIRAC's (``TransformationStatus``, ``TransformationFilesStatus``,
the task ``ExternalStatus``), so a transformation means the same in both systems.

- :class:`TransformationStatus` with :data:`TRANSFORMATION_TRANSITIONS`. DIRAC lets any status
  follow any other; we keep that freedom for live transformations but refuse to bring one back
  once it is being cleaned, cleaned, archived or deleted (``force`` still can).
- :class:`TransformationFileStatus` and :func:`file_transition`, DIRAC's file state rules as one
  pure function (:class:`FileTransition`).
- :class:`TaskStatus` with :data:`TASK_TRANSITIONS`: Created -> Reserved -> Submitted, then the
  status of the job or request it became, mirrored (:func:`task_status_of_job`,
  :func:`task_status_of_request`).
"""

from __future__ import annotations

from enum import StrEnum

from attrs import frozen

from dirac_core.model.job import JobStatus
from dirac_core.model.request import RequestStatus
from dirac_core.model.status import make_table

__all__ = [
    "ACTIVE_TRANSFORMATION",
    "DEFAULT_MAX_RESET",
    "FINAL_TASK",
    "FINAL_TRANSFORMATION",
    "INPUT_TRANSFORMATION",
    "SPLIT_TRANSFORMATION",
    "SUBMIT_TRANSFORMATION",
    "TASK_TRANSITIONS",
    "TRANSFORMATION_TRANSITIONS",
    "AgentType",
    "FileAddition",
    "FileTransition",
    "TaskStatus",
    "TransformationFileStatus",
    "TransformationStatus",
    "file_transition",
    "task_name",
    "task_status_of_job",
    "task_status_of_request",
]


class TransformationStatus(StrEnum):
    """New: defined; Active: tasks are made and submitted; Flush: partial groups are made too;
    Stopped: nothing new is submitted; Completing: submitting what is left; Completed: done;
    Cleaning/RemovingFiles: outputs are being removed; Cleaned, TransformationCleaned,
    Archived, Deleted: gone. Idle is DIRAC's, kept for compatibility."""

    NEW = "New"
    IDLE = "Idle"
    ACTIVE = "Active"
    FLUSH = "Flush"
    STOPPED = "Stopped"
    COMPLETING = "Completing"
    COMPLETED = "Completed"
    REMOVING_FILES = "RemovingFiles"
    CLEANING = "Cleaning"
    CLEANED = "Cleaned"
    TRANSFORMATION_CLEANED = "TransformationCleaned"
    ARCHIVED = "Archived"
    DELETED = "Deleted"


_T = TransformationStatus
#: DIRAC's "active" class: statuses in which a transformation may still get tasks.
ACTIVE_TRANSFORMATION = frozenset({_T.NEW, _T.IDLE, _T.ACTIVE, _T.FLUSH, _T.COMPLETING, _T.STOPPED})
#: DIRAC's final class.
FINAL_TRANSFORMATION = frozenset({_T.COMPLETED, _T.ARCHIVED, _T.CLEANING, _T.CLEANED,
                                  _T.TRANSFORMATION_CLEANED, _T.DELETED})
#: The statuses whose unused files the splitting cycle groups into tasks.
SPLIT_TRANSFORMATION = frozenset({_T.ACTIVE, _T.COMPLETING, _T.FLUSH})
#: The statuses whose created tasks the task manager submits (with agent type Automatic).
SUBMIT_TRANSFORMATION = frozenset({_T.ACTIVE, _T.COMPLETING, _T.FLUSH})
#: The statuses in which newly registered files matching the input query are attached.
INPUT_TRANSFORMATION = frozenset({_T.NEW, _T.ACTIVE, _T.STOPPED, _T.COMPLETING, _T.FLUSH})

_LIVE = (_T.NEW, _T.IDLE, _T.ACTIVE, _T.FLUSH, _T.STOPPED, _T.COMPLETING, _T.COMPLETED)
TRANSFORMATION_TRANSITIONS = make_table(TransformationStatus, {
    **{status: tuple(TransformationStatus) for status in _LIVE},
    _T.REMOVING_FILES: (_T.COMPLETED, _T.CLEANING, _T.CLEANED, _T.TRANSFORMATION_CLEANED, _T.DELETED),
    _T.CLEANING: (_T.CLEANED, _T.TRANSFORMATION_CLEANED, _T.DELETED),
    _T.TRANSFORMATION_CLEANED: (_T.CLEANED, _T.ARCHIVED, _T.DELETED),
    _T.CLEANED: (_T.ARCHIVED, _T.DELETED),
    _T.ARCHIVED: (),
    _T.DELETED: (),
})


class AgentType(StrEnum):
    """Automatic: the task manager submits the transformation's tasks; Manual: it does not."""

    MANUAL = "Manual"
    AUTOMATIC = "Automatic"


class TransformationFileStatus(StrEnum):
    """Where a file of a transformation stands.

    Unused: waiting for a task; Assigned: in a task; Processed: its task succeeded;
    Problematic: its task failed for good; MaxReset: reset too often, left alone; MissingInFC:
    the catalog does not know it; ProbInFC: the catalog could not answer for it; Removed and
    Deleted: taken out of the transformation. The ``-inherited`` statuses and Moved are DIRAC's
    for files taken over by a derived transformation.
    """

    UNUSED = "Unused"
    ASSIGNED = "Assigned"
    PROCESSED = "Processed"
    PROBLEMATIC = "Problematic"
    MAX_RESET = "MaxReset"
    MISSING_IN_FC = "MissingInFC"
    PROB_IN_FC = "ProbInFC"
    REMOVED = "Removed"
    DELETED = "Deleted"
    UNUSED_INHERITED = "Unused-inherited"
    ASSIGNED_INHERITED = "Assigned-inherited"
    MAX_RESET_INHERITED = "MaxReset-inherited"
    PROCESSED_INHERITED = "Processed-inherited"
    MOVED = "Moved"


class FileAddition(StrEnum):
    """The outcome of adding one file to a transformation."""

    ADDED = "Added"
    PRESENT = "Present"


#: DIRAC's ``FilesMaxResetCounter`` default.
DEFAULT_MAX_RESET = 10

_F = TransformationFileStatus


@frozen
class FileTransition:
    """The status a file gets and its error count afterwards."""

    status: TransformationFileStatus
    error_count: int


def file_transition(current: TransformationFileStatus, requested: TransformationFileStatus,
                    error_count: int, *, force: bool = False,
                    max_reset: int = DEFAULT_MAX_RESET) -> FileTransition | None:
    """What asking ``current`` -> ``requested`` does to a file; None when nothing changes.

    Asking for the status the file has changes nothing. Then DIRAC's rules, in order, all skipped
    by ``force`` except the error count:

    1. Processed is sticky: any other request leaves the file Processed.
    2. From MaxReset, Unused is refused: the file stays MaxReset.
    3. Unused when ``error_count`` (before this change) is a non-zero multiple of ``max_reset``
       becomes MaxReset.
    4. The error count goes up by one when the file leaves Assigned for anything but Processed.
    """
    if requested is current:  # unchanged statuses are not applied at all
        return None
    status = requested
    if not force:
        if current is _F.PROCESSED:
            status = _F.PROCESSED
        elif requested is _F.UNUSED and (current is _F.MAX_RESET
                                         or (error_count and error_count % max_reset == 0)):
            status = _F.MAX_RESET
    if status is current:
        return None
    failed = current is _F.ASSIGNED and status is not _F.PROCESSED
    return FileTransition(status, error_count + 1 if failed else error_count)


class TaskStatus(StrEnum):
    """Created: made by the splitting cycle; Reserved: a task manager is submitting it;
    Submitted: it is a job or a request now. Then the job's or the request's status, mirrored."""

    CREATED = "Created"
    RESERVED = "Reserved"
    SUBMITTED = "Submitted"
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
    SCHEDULED = "Scheduled"
    DONE = "Done"
    FAILED = "Failed"
    KILLED = "Killed"
    DELETED = "Deleted"
    CANCELED = "Canceled"


_K = TaskStatus
#: Statuses after which a task is no longer watched: its files have their outcome.
FINAL_TASK = frozenset({_K.DONE, _K.FAILED, _K.KILLED, _K.DELETED, _K.CANCELED})
_MIRRORED = tuple(s for s in TaskStatus if s not in (_K.CREATED, _K.RESERVED, _K.SUBMITTED))

TASK_TRANSITIONS = make_table(TaskStatus, {
    _K.CREATED: (_K.RESERVED,),
    # a reservation ends in a submission, back in Created (nothing was submitted) or Failed
    # (the task could not be turned into a job or request)
    _K.RESERVED: (_K.CREATED, _K.SUBMITTED, _K.FAILED),
    # the external system decides; the task follows
    **{status: _MIRRORED for status in (_K.SUBMITTED, *_MIRRORED) if status not in FINAL_TASK},
    **dict.fromkeys(FINAL_TASK, ()),
})


def task_status_of_job(status: JobStatus | None) -> TaskStatus:
    """The status of a task whose job is in ``status``; a job that no longer exists (None) makes
    the task Failed. Submitting reads as Submitted."""
    if status is None:
        return _K.FAILED
    if status is JobStatus.SUBMITTING:
        return _K.SUBMITTED
    return TaskStatus(status.value)


def task_status_of_request(status: RequestStatus | None, current: TaskStatus) -> TaskStatus:
    """The status of a task whose request is in ``status``; Assigned (an executor holds the
    request for a moment) leaves ``current``; a request that no longer exists fails the task."""
    if status is None:
        return _K.FAILED
    if status is RequestStatus.ASSIGNED:
        return current
    return TaskStatus(status.value)


def task_name(transformation_id: int, task_id: int) -> str:
    """The name of a task, its job's name or its request's: ``%08d_%08d``."""
    return f"{transformation_id:08d}_{task_id:08d}"

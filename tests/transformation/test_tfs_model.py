"""The status rules of transformations, their files and tasks, as tables (no database)."""

from __future__ import annotations

import pytest

from dirac_core.errors import InvalidTransition
from dirac_core.model.job import JobStatus
from dirac_core.model.request import RequestStatus
from dirac_core.model.status import check_transition, reachable
from dirac_core.model.transformation import (
    FINAL_TASK,
    TASK_TRANSITIONS,
    TRANSFORMATION_TRANSITIONS,
    FileTransition,
    TaskStatus,
    file_transition,
    task_name,
    task_status_of_job,
    task_status_of_request,
)
from dirac_core.model.transformation import TransformationFileStatus as F
from dirac_core.model.transformation import TransformationStatus as T

# (current, requested, error count, force) -> (status afterwards, error count afterwards), None: no change
FILE_RULES = [
    # a task outcome
    (F.ASSIGNED, F.PROCESSED, 0, False, (F.PROCESSED, 0)),
    (F.ASSIGNED, F.UNUSED, 0, False, (F.UNUSED, 1)),
    (F.ASSIGNED, F.PROBLEMATIC, 3, False, (F.PROBLEMATIC, 4)),
    (F.ASSIGNED, F.UNUSED, 9, False, (F.UNUSED, 10)),
    # DIRAC's examples: {foo: Assigned, EC=20} + Unused -> MaxReset; {MaxReset, EC=12} + Unused -> no change
    (F.ASSIGNED, F.UNUSED, 20, False, (F.MAX_RESET, 21)),
    (F.ASSIGNED, F.UNUSED, 10, False, (F.MAX_RESET, 11)),
    (F.MAX_RESET, F.UNUSED, 12, False, None),
    (F.MAX_RESET, F.UNUSED, 12, True, (F.UNUSED, 12)),
    (F.ASSIGNED, F.UNUSED, 20, True, (F.UNUSED, 21)),
    # Processed is sticky unless forced
    (F.PROCESSED, F.UNUSED, 0, False, None),
    (F.PROCESSED, F.PROBLEMATIC, 0, False, None),
    (F.PROCESSED, F.UNUSED, 0, True, (F.UNUSED, 0)),
    # an error count that is no multiple of the counter, or zero, does not block Unused
    (F.PROBLEMATIC, F.UNUSED, 0, False, (F.UNUSED, 0)),
    (F.PROBLEMATIC, F.UNUSED, 7, False, (F.UNUSED, 7)),
    (F.MISSING_IN_FC, F.UNUSED, 10, False, (F.MAX_RESET, 10)),
    # unchanged statuses are not applied, not even the MaxReset rule
    (F.UNUSED, F.UNUSED, 10, False, None),
    (F.ASSIGNED, F.ASSIGNED, 0, False, None),
    # leaving Unused or Assigned-to-Processed costs no error
    (F.UNUSED, F.ASSIGNED, 0, False, (F.ASSIGNED, 0)),
    (F.UNUSED, F.MISSING_IN_FC, 2, False, (F.MISSING_IN_FC, 2)),
]


@pytest.mark.parametrize(("current", "requested", "errors", "force", "expected"), FILE_RULES)
def test_file_rules(current: F, requested: F, errors: int, force: bool,
                    expected: tuple[F, int] | None) -> None:
    got = file_transition(current, requested, errors, force=force)
    assert got == (None if expected is None else FileTransition(*expected))


def test_the_reset_counter_is_a_setting() -> None:
    assert file_transition(F.ASSIGNED, F.UNUSED, 3, max_reset=3) == FileTransition(F.MAX_RESET, 4)
    assert file_transition(F.ASSIGNED, F.UNUSED, 3, max_reset=4) == FileTransition(F.UNUSED, 4)


def test_tasks_go_created_reserved_submitted_then_follow() -> None:
    K = TaskStatus
    check_transition(TASK_TRANSITIONS, K.CREATED, K.RESERVED)
    for after in (K.CREATED, K.SUBMITTED, K.FAILED):
        check_transition(TASK_TRANSITIONS, K.RESERVED, after)
    for refused in [(K.CREATED, K.SUBMITTED), (K.SUBMITTED, K.CREATED), (K.RUNNING, K.RESERVED),
                    (K.DONE, K.RUNNING), (K.FAILED, K.WAITING)]:
        with pytest.raises(InvalidTransition):
            check_transition(TASK_TRANSITIONS, *refused)
    check_transition(TASK_TRANSITIONS, K.SUBMITTED, K.RUNNING)
    check_transition(TASK_TRANSITIONS, K.RUNNING, K.RECEIVED)  # a rescheduled job
    assert all(not TASK_TRANSITIONS[s] for s in FINAL_TASK)
    assert reachable(TASK_TRANSITIONS, K.CREATED) == frozenset(TaskStatus)


def test_tasks_mirror_jobs_and_requests() -> None:
    assert task_status_of_job(JobStatus.RUNNING) is TaskStatus.RUNNING
    assert task_status_of_job(JobStatus.SUBMITTING) is TaskStatus.SUBMITTED
    assert task_status_of_job(None) is TaskStatus.FAILED
    assert {task_status_of_job(s) for s in JobStatus} <= set(TaskStatus)
    assert task_status_of_request(RequestStatus.SCHEDULED, TaskStatus.WAITING) is TaskStatus.SCHEDULED
    assert task_status_of_request(RequestStatus.ASSIGNED, TaskStatus.WAITING) is TaskStatus.WAITING
    assert task_status_of_request(None, TaskStatus.WAITING) is TaskStatus.FAILED


def test_transformations_move_freely_until_they_are_cleaned() -> None:
    check_transition(TRANSFORMATION_TRANSITIONS, T.COMPLETED, T.ACTIVE)
    check_transition(TRANSFORMATION_TRANSITIONS, T.NEW, T.FLUSH)
    for gone in (T.CLEANED, T.ARCHIVED, T.DELETED, T.TRANSFORMATION_CLEANED):
        with pytest.raises(InvalidTransition):
            check_transition(TRANSFORMATION_TRANSITIONS, gone, T.ACTIVE)
    check_transition(TRANSFORMATION_TRANSITIONS, T.CLEANED, T.ACTIVE, force=True)


def test_task_names() -> None:
    assert task_name(12, 345) == "00000012_00000345"

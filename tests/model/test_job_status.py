from __future__ import annotations

import itertools

import pytest

from dirac_core.errors import InvalidTransition
from dirac_core.model import JOB_TRANSITIONS, JobStatus, check_transition, reachable

J = JobStatus

# DIRAC's exec-verified matrix (reference wms.md 2.2), written out independently of the module
DIRAC_MATRIX = {
    "Submitting": "Received Checking Deleted Killed",
    "Received": "Scouting Checking Waiting Failed Deleted Killed",
    "Checking": "Scouting Staging Waiting Rescheduled Failed Deleted Killed",
    "Scouting": "Checking Failed Stalled Killed",
    "Staging": "Checking Waiting Failed Killed",
    "Waiting": "Matched Rescheduled Deleted Killed",
    "Matched": "Running Failed Rescheduled Killed",
    "Rescheduled": "Waiting Received Deleted Failed Killed",
    "Running": "Stalled Done Failed Rescheduled Completing Killed Received",
    "Stalled": "Running Failed Killed",
    "Completing": "Done Failed Completed Stalled Killed",
    "Completed": "Done Failed",
    "Done": "Deleted",
    "Failed": "Rescheduled Deleted",
    "Killed": "Deleted",
    "Deleted": "",
}


@pytest.mark.parametrize("current", list(JobStatus))
def test_every_pair_matches_dirac(current: JobStatus) -> None:
    allowed = {J(s) for s in DIRAC_MATRIX[current.value].split()}
    for target in JobStatus:
        if target in allowed or target is current:
            assert check_transition(JOB_TRANSITIONS, current, target) is target
        else:
            with pytest.raises(InvalidTransition):
                check_transition(JOB_TRANSITIONS, current, target, subject="job 1")


def test_deleted_is_final_unlike_dirac() -> None:
    with pytest.raises(InvalidTransition, match="Deleted -> Running"):
        check_transition(JOB_TRANSITIONS, J.DELETED, J.RUNNING)
    assert check_transition(JOB_TRANSITIONS, J.DELETED, J.RUNNING, force=True) is J.RUNNING


def test_happy_path_and_finals() -> None:
    path = [J.SUBMITTING, J.RECEIVED, J.CHECKING, J.WAITING, J.MATCHED, J.RUNNING, J.COMPLETING,
            J.COMPLETED, J.DONE]
    for a, b in itertools.pairwise(path):
        check_transition(JOB_TRANSITIONS, a, b)
    assert {s for s in JobStatus if s.is_final} == {J.DONE, J.COMPLETED, J.FAILED, J.KILLED, J.DELETED}
    assert J.DELETED in reachable(JOB_TRANSITIONS, J.SUBMITTING)

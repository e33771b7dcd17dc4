from __future__ import annotations

from enum import StrEnum

import pytest

from dirac_core.errors import InvalidTransition
from dirac_core.model import PILOT_TRANSITIONS, PilotStatus, check_transition, make_table, reachable


class Light(StrEnum):
    RED = "Red"
    GREEN = "Green"
    AMBER = "Amber"
    OFF = "Off"


TABLE = make_table(Light, {
    Light.RED: [Light.GREEN, Light.OFF],
    Light.GREEN: [Light.AMBER],
    Light.AMBER: [Light.RED],
    Light.OFF: [],
})


def test_allowed_and_same_status() -> None:
    assert check_transition(TABLE, Light.RED, Light.GREEN) is Light.GREEN
    assert check_transition(TABLE, Light.OFF, Light.OFF) is Light.OFF


def test_refused_names_both_statuses_and_subject() -> None:
    with pytest.raises(InvalidTransition) as info:
        check_transition(TABLE, Light.GREEN, Light.RED, subject="job 7")
    err = info.value
    assert err.current is Light.GREEN and err.requested is Light.RED  # type: ignore[attr-defined]
    assert str(err) == "Light Green -> Red is not allowed for job 7"


def test_force_skips_the_table() -> None:
    assert check_transition(TABLE, Light.OFF, Light.GREEN, force=True) is Light.GREEN


def test_table_must_cover_every_member() -> None:
    with pytest.raises(ValueError, match=r"no transition row for \['Off'\]"):
        make_table(Light, {Light.RED: [], Light.GREEN: [], Light.AMBER: []})


def test_reachable() -> None:
    assert reachable(TABLE, Light.GREEN) == {Light.GREEN, Light.AMBER, Light.RED, Light.OFF}
    assert reachable(TABLE, Light.OFF) == {Light.OFF}


def test_pilot_final_statuses_never_move() -> None:
    finals = {s for s in PilotStatus if s.is_final}
    assert finals == {PilotStatus.DONE, PilotStatus.FAILED, PilotStatus.ABORTED, PilotStatus.DELETED}
    with pytest.raises(InvalidTransition):
        check_transition(PILOT_TRANSITIONS, PilotStatus.DONE, PilotStatus.RUNNING)
    assert check_transition(PILOT_TRANSITIONS, PilotStatus.SUBMITTED, PilotStatus.RUNNING)
    with pytest.raises(InvalidTransition):
        check_transition(PILOT_TRANSITIONS, PilotStatus.RUNNING, PilotStatus.WAITING)


def test_pilot_status_values_are_dirac_names() -> None:
    assert [s.value for s in PilotStatus] == [
        "Submitted", "Waiting", "Running", "Done", "Failed", "Aborted", "Deleted", "Unknown"]

"""ARC state mapping, xRSL job descriptions and GLUE2 parsing (no server needed)."""

from __future__ import annotations

import pytest

from dirac_core.model.pilot import PILOT_TRANSITIONS, PilotStatus
from dirac_plugins_ce.arc import glue2_free_slots
from dirac_plugins_ce.arc_jobdesc import PilotJob, multi_xrsl, xrsl_quote
from dirac_plugins_ce.arc_states import (
    REST_TO_PILOT,
    ArcInternalState,
    ArcState,
    parse_internal_state,
    parse_rest_state,
    pilot_status,
)

S = PilotStatus

# --- states -------------------------------------------------------------------


def test_every_rest_state_is_mapped() -> None:
    assert set(REST_TO_PILOT) == set(ArcState)


@pytest.mark.parametrize(("state", "expected"), [
    *[(name, S.WAITING) for name in
      ("ACCEPTING", "ACCEPTED", "PREPARING", "PREPARED", "SUBMITTING", "QUEUING")],
    *[(name, S.RUNNING) for name in ("RUNNING", "HELD", "EXITINGLRMS", "OTHER", "EXECUTED", "FINISHING")],
    ("FINISHED", S.DONE),
    ("FAILED", S.FAILED),
    ("KILLING", S.ABORTED),
    ("KILLED", S.ABORTED),
    ("WIPED", S.ABORTED),
])
def test_rest_state_alone(state: str, expected: PilotStatus) -> None:
    assert pilot_status(parse_rest_state(state)) is expected


@pytest.mark.parametrize(("text", "expected"), [
    ("FINISHED", ArcState.FINISHED), ("finished", ArcState.FINISHED),
    ("arcrest:RUNNING", ArcState.RUNNING), (" QUEUING\n", ArcState.QUEUING),
    ("None", None), ("", None), (None, None), ("SOMETHING", None),
])
def test_parse_rest_state(text: str | None, expected: ArcState | None) -> None:
    assert parse_rest_state(text) is expected


@pytest.mark.parametrize(("text", "expected"), [
    ("FINISHED", ArcInternalState.FINISHED), ("INLRMS\n", ArcInternalState.INLRMS),
    ("canceling", ArcInternalState.CANCELING), ("", None), (None, None), ("BOGUS", None),
])
def test_parse_internal_state(text: str | None, expected: ArcInternalState | None) -> None:
    assert parse_internal_state(text) is expected


@pytest.mark.parametrize(("internal", "expected"), [
    (ArcInternalState.ACCEPTED, S.WAITING),
    (ArcInternalState.PREPARING, S.WAITING),
    (ArcInternalState.SUBMIT, S.WAITING),
    (ArcInternalState.FINISHING, S.RUNNING),
    (ArcInternalState.CANCELING, S.ABORTED),
    (ArcInternalState.DELETED, S.ABORTED),
    (ArcInternalState.UNDEFINED, S.UNKNOWN),
])
def test_internal_state_decides_while_rest_state_is_not_final(internal: ArcInternalState,
                                                               expected: PilotStatus) -> None:
    assert pilot_status(ArcState.ACCEPTED, internal) is expected


def test_internal_finished_needs_the_failure_text() -> None:
    fin = ArcInternalState.FINISHED
    assert pilot_status(ArcState.ACCEPTED, fin, None) is S.DONE
    assert pilot_status(ArcState.RUNNING, fin, "  \n") is S.DONE
    assert pilot_status(ArcState.RUNNING, fin, "Job is canceled by external request\n") is S.ABORTED
    assert pilot_status(None, fin, "LRMS error: (3) Job finished with wrong exit code - 3 != 0") is S.FAILED
    assert pilot_status(None, fin, "Job submission to LRMS failed") is S.FAILED


@pytest.mark.parametrize(("rest", "expected"), [
    (None, S.WAITING), (ArcState.ACCEPTED, S.WAITING), (ArcState.QUEUING, S.WAITING),
    (ArcState.RUNNING, S.RUNNING), (ArcState.EXITINGLRMS, S.RUNNING),
])
def test_inlrms_is_running_only_once_the_rest_state_saw_the_start(rest: ArcState | None,
                                                                  expected: PilotStatus) -> None:
    # the late REST state still says "queued": calling it Running could later go backwards
    assert pilot_status(rest, ArcInternalState.INLRMS) is expected


def test_final_rest_state_wins_over_the_internal_one() -> None:
    assert pilot_status(ArcState.FINISHED, ArcInternalState.INLRMS) is S.DONE
    assert pilot_status(ArcState.KILLED, ArcInternalState.FINISHED, None) is S.ABORTED
    assert pilot_status(ArcState.FAILED, ArcInternalState.FINISHED, None) is S.FAILED


def test_nothing_known_is_unknown() -> None:
    assert pilot_status(None) is S.UNKNOWN
    assert pilot_status(None, None, "whatever") is S.UNKNOWN


def test_a_job_followed_through_its_life_never_goes_backwards() -> None:
    # (REST state late by one step, internal state) as a poller sees a fork job
    life = [
        (ArcState.ACCEPTING, ArcInternalState.ACCEPTED, None),
        (ArcState.ACCEPTED, ArcInternalState.PREPARING, None),
        (ArcState.PREPARING, ArcInternalState.INLRMS, None),
        (ArcState.RUNNING, ArcInternalState.INLRMS, None),
        (ArcState.RUNNING, ArcInternalState.FINISHING, None),
        (ArcState.EXITINGLRMS, ArcInternalState.FINISHED, None),
        (ArcState.FINISHED, ArcInternalState.FINISHED, None),
    ]
    current = S.SUBMITTED
    for rest, internal, failure in life:
        new = pilot_status(rest, internal, failure)
        assert new is current or new in PILOT_TRANSITIONS[current], (current, new)
        current = new
    assert current is S.DONE


# --- job descriptions -----------------------------------------------------------


def test_xrsl_quote_doubles_quotes() -> None:
    assert xrsl_quote('a "b" c') == '"a ""b"" c"'
    assert xrsl_quote("") == '""'


def test_pilot_job_keeps_outputs_and_passes_the_stamp() -> None:
    text = PilotJob(stamp="abc123", queue="long").xrsl()
    assert text.startswith("&")
    assert '(executable="pilot.sh")' in text
    assert '(inputfiles=("pilot.sh" ""))' in text
    assert '(stdout="pilot.out")' in text and '(stderr="pilot.err")' in text
    # A-REX deletes every session file not listed in outputfiles
    assert '(outputfiles=("pilot.out" "")("pilot.err" ""))' in text
    assert '(environment=("DIRAC_PILOT_STAMP" "abc123"))' in text
    assert '(queue="long")' in text
    assert "count=" not in text


def test_pilot_job_options() -> None:
    text = PilotJob(stamp='we"ird', processors=4, extra=' (runtimeenvironment="ENV/X") ').xrsl()
    assert "(queue=" not in text
    assert "(count=4)(countpernode=4)" in text
    assert text.endswith('(runtimeenvironment="ENV/X")')
    assert '"we""ird"' in text


def test_pilot_job_refuses_zero_processors() -> None:
    with pytest.raises(ValueError, match="processors"):
        PilotJob(stamp="s", processors=0)


def test_multi_xrsl() -> None:
    one, two = PilotJob(stamp="1"), PilotJob(stamp="2")
    assert multi_xrsl([one]) == one.xrsl()
    assert multi_xrsl([one, two]) == f"+({one.xrsl()})({two.xrsl()})"
    with pytest.raises(ValueError, match="no job"):
        multi_xrsl([])


# --- GLUE2 ----------------------------------------------------------------------


def glue2(shares: object) -> dict[str, object]:
    return {"Domains": {"AdminDomain": {"Services": {"ComputingService": {"ComputingShare": shares}}}}}


def test_free_slots_of_our_queue() -> None:
    info = glue2([{"Name": "short", "MappingQueue": "short", "FreeSlots": "7"},
                  {"Name": "long_atlas", "MappingQueue": "long", "FreeSlots": "3"}])
    assert glue2_free_slots(info, "long") == 3
    assert glue2_free_slots(info, "short") == 7
    assert glue2_free_slots(info, None) == 7
    assert glue2_free_slots(info, "other") is None


def test_free_slots_single_share_and_gaps() -> None:
    assert glue2_free_slots(glue2({"Name": "fork", "MappingQueue": "fork", "FreeSlots": "2"}), "fork") == 2
    assert glue2_free_slots(glue2({"Name": "fork", "MappingQueue": "fork"}), "fork") is None
    assert glue2_free_slots(glue2({"Name": "fork", "FreeSlots": "many"}), "fork") is None
    assert glue2_free_slots({}, "fork") is None
    assert glue2_free_slots({"Domains": "nonsense"}, "fork") is None

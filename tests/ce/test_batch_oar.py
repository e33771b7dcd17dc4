"""The OAR batch-system driver on recorded outputs (samples/oar) and on the commands it builds."""

from __future__ import annotations

import shlex

import pytest
from batch_sample_helpers import (
    OUTPUT_DIR,
    SCRIPT,
    A,
    D,
    F,
    R,
    U,
    W,
    declared_batch_system,
    full_submission,
    sample,
    submission,
    value,
)

from dirac_core.errors import CEError
from dirac_core.model.pilot import PilotStatus
from dirac_plugins_ce.batch.oar import JOB_STATES, OAR, oar_status

DOCUMENTED_STATES = {"Waiting", "Hold", "toLaunch", "toError", "toAckReservation", "Launching", "Running",
                     "Suspended", "Resuming", "Finishing", "Terminated", "Error"}

#: oarstat.json: job -> expected pilot status.
EXPECTED = {
    "5510": W,   # Waiting
    "5511": W,   # Hold
    "5512": W,   # toLaunch
    "5513": W,   # toAckReservation
    "5514": W,   # Launching
    "5515": R,   # Running
    "5516": R,   # Finishing
    "5517": R,   # Suspended
    "5518": R,   # Resuming
    "5519": D,   # Terminated, exit code 0
    "5520": F,   # Terminated, 256 = exit 1
    "5521": F,   # Terminated, 9 = killed by SIGKILL
    "5522": A,   # Error without exit code (oardel)
    "5523": F,   # Error, 2560 = exit 10 (walltime)
    "5524": A,   # toError without exit code
    "5525": D,   # Terminated, no exit code recorded
}


@pytest.fixture
def oar() -> OAR:
    return OAR()


def test_registered_as_oar() -> None:
    assert declared_batch_system("oar") is OAR


# -- statuses ----------------------------------------------------------------


def test_every_documented_state_is_mapped() -> None:
    assert set(JOB_STATES) == DOCUMENTED_STATES


@pytest.mark.parametrize(("state", "exit_code", "expected"), [
    ("Waiting", None, W), ("Hold", None, W), ("toLaunch", None, W), ("toAckReservation", None, W),
    ("Launching", None, W), ("Running", None, R), ("Finishing", None, R), ("Suspended", None, R),
    ("Resuming", None, R), ("Terminated", 0, D), ("Terminated", None, D), ("Terminated", 256, F),
    ("Terminated", 15, F), ("Error", None, A), ("toError", None, A), ("Error", 0, F), ("Error", 256, F),
    ("toError", 512, F), ("Unheard", None, U), ("running", None, U),
])
def test_oar_status(state: str, exit_code: int | None, expected: PilotStatus) -> None:
    assert oar_status(state, exit_code) is expected


def test_oarstat_every_state(oar: OAR) -> None:
    assert oar.parse_status(sample("oar", "oarstat.json"), [*EXPECTED, "5599"]) == EXPECTED


def test_jobs_not_asked_for_are_left_out(oar: OAR) -> None:
    assert oar.parse_status(sample("oar", "oarstat.json"), ["5515"]) == {"5515": R}


def test_no_known_job(oar: OAR) -> None:
    assert oar.parse_status(sample("oar", "oarstat_none.json"), ["5515"]) == {}


def test_exit_code_as_text_and_capitalised_keys(oar: OAR) -> None:
    text = ('{"7": {"State": "Terminated", "Exit_code": "256"},'
            ' "8": {"state": "Terminated", "exit_code": "0"},'
            ' "9": {"state": "Terminated", "exit_code": "256 (1,0,0)"}}')
    assert oar.parse_status(text, ["7", "8", "9"]) == {"7": F, "8": D, "9": F}


@pytest.mark.parametrize(("text", "message"), [
    ("", "OAR: oarstat printed nothing, expected a JSON object"),
    (sample("oar", "oarstat_garbage.txt"), r"OAR: oarstat output is not JSON .*Job id"),
    (sample("oar", "oarstat_list.json"), r"OAR: oarstat output is not a JSON object: '\[5515, 5516\]'"),
    ('{"5515": {"queue": "default"}}', "OAR: oarstat gives job 5515 no state"),
    ('{"5515": "Running"}', "OAR: oarstat gives job 5515 no state"),
])
def test_garbage_oarstat_output_is_an_error(oar: OAR, text: str, message: str) -> None:
    with pytest.raises(CEError, match=message):
        oar.parse_status(text, ["5515"])


# -- submission ----------------------------------------------------------------


def test_parse_submit(oar: OAR) -> None:
    assert oar.parse_submit(sample("oar", "oarsub.txt"), submission()) == ["5501"]
    assert oar.parse_submit(sample("oar", "oarsub_array.txt"), submission(count=3)) == [
        "5502", "5503", "5504"]


@pytest.mark.parametrize(("text", "message"), [
    ("", "OAR: the submit command printed nothing"),
    (sample("oar", "oarsub_garbage.txt"), "OAR: no job id in the submit command's output .*not enough"),
    ("OAR_ARRAY_ID=5502\n", "no job id"),
])
def test_parse_submit_errors(oar: OAR, text: str, message: str) -> None:
    with pytest.raises(CEError, match=message):
        oar.parse_submit(text, submission())


def test_submit_command_with_every_option(oar: OAR) -> None:
    argv = oar.submit_command(full_submission())
    assert argv[0] == "oarsub"
    assert value(argv, "-n") == "dirac-pilot"
    assert value(argv, "-O") == f"{OUTPUT_DIR}/%jobid%.out"
    assert value(argv, "-E") == f"{OUTPUT_DIR}/%jobid%.err"
    assert value(argv, "-q") == "long"
    assert value(argv, "-l") == "/nodes=1/core=4,walltime=24:30:05"
    assert value(argv, "--array") == "3"
    assert argv[-3:-1] == ["--site-option", "x y"]
    assert shlex.split(argv[-1]) == ["env", "DIRAC_PILOT_STAMP=a1b2c3",
                                     "DIRAC_NOTE=spaces, commas 'and' \"quotes\"", SCRIPT]
    assert "8000" not in " ".join(argv)   # no memory request in OAR


def test_submit_command_minimal(oar: OAR) -> None:
    assert oar.submit_command(submission()) == [
        "oarsub", "-n", "dirac-pilot", "-O", f"{OUTPUT_DIR}/%jobid%.out", "-E", f"{OUTPUT_DIR}/%jobid%.err",
        SCRIPT]
    assert value(oar.submit_command(submission(wall_seconds=59)), "-l") == "walltime=0:00:59"


def test_script_path_is_quoted_for_the_job_shell(oar: OAR) -> None:
    argv = oar.submit_command(submission(script="/home/d d/pilot $1.sh"))
    assert shlex.split(argv[-1]) == ["/home/d d/pilot $1.sh"]


def test_output_files_match_the_submitted_paths(oar: OAR) -> None:
    argv = oar.submit_command(submission())
    submitted = tuple(value(argv, flag).replace("%jobid%", "5501") for flag in ("-O", "-E"))
    assert submitted == oar.output_files("5501", OUTPUT_DIR)


def test_invalid_submission_is_refused(oar: OAR) -> None:
    with pytest.raises(CEError, match="OAR: invalid submission: output_dir must be a non-empty single line"):
        oar.submit_command(submission(output_dir=""))


# -- status and kill commands --------------------------------------------------


def test_status_command(oar: OAR) -> None:
    assert oar.status_command(["5501", "5502"]) == ["oarstat", "--json", "--full", "-j", "5501", "-j", "5502"]
    assert oar.history_command(["5501"]) is None


def test_kill_command(oar: OAR) -> None:
    assert oar.kill_command(["5501", "5502"]) == ["oardel", "5501", "5502"]


@pytest.mark.parametrize("bad", [[], ["5501.0"], ["--array"], ["55 01"]])
def test_job_ids_are_checked(oar: OAR, bad: list[str]) -> None:
    for command in (oar.status_command, oar.kill_command):
        with pytest.raises(CEError, match=r"OAR: (no job ids given|not job ids of this batch system)"):
            command(bad)

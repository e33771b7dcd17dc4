"""The HTCondor batch-system driver on recorded outputs (samples/htcondor) and on the commands it builds."""

from __future__ import annotations

import posixpath
import re

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
)
from hypothesis import given
from hypothesis import strategies as st

from dirac_core.errors import CEError
from dirac_core.model.pilot import PilotStatus
from dirac_plugins_ce.batch.htcondor import (
    HOLD_FAILED,
    HOLD_WAITING,
    JOB_STATUS,
    HTCondor,
    condor_environment,
    condor_status,
)

#: condor_q_all_states.txt, job by job: (JobStatus, hold code) -> expected pilot status.
EXPECTED_QUEUE = {
    "4321.0": W,   # 1 Idle
    "4321.1": R,   # 2 Running
    "4321.2": W,   # 5 Held, 16 SpoolingInput
    "4321.3": W,   # 5 Held, 15 SubmittedOnHold
    "4321.4": F,   # 5 Held, 34 JobOutOfResources
    "4321.5": F,   # 5 Held, 46 JobDurationExceeded
    "4321.6": F,   # 5 Held, 47 JobExecuteExceeded
    "4321.7": A,   # 5 Held, 1 UserRequest
    "4321.8": A,   # 5 Held, 13 UploadFileError
    "4321.9": R,   # 6 Transferring output
    "4321.10": R,  # 7 Suspended
    "4321.11": A,  # 3 Removed
    "4321.12": W,  # 0 Unexpanded
    "4321.13": D,  # 4 Completed, exit 0
}


@pytest.fixture
def condor() -> HTCondor:
    return HTCondor()


def test_registered_as_htcondor() -> None:
    assert declared_batch_system("htcondor") is HTCondor


# -- statuses ----------------------------------------------------------------


def test_every_job_status_code_is_mapped() -> None:
    assert set(JOB_STATUS) == set(range(8))
    assert not HOLD_WAITING & HOLD_FAILED


@pytest.mark.parametrize(("code", "exit_code", "by_signal", "hold", "expected"), [
    (0, None, False, None, W), (1, None, False, None, W), (2, None, False, None, R),
    (3, None, False, None, A), (4, 0, False, None, D), (4, None, False, None, D),
    (4, 1, False, None, F), (4, None, True, None, F), (4, 0, True, None, F), (5, None, False, None, A),
    (5, None, False, 16, W), (5, None, False, 15, W), (5, None, False, 34, F), (5, None, False, 46, F),
    (5, None, False, 47, F), (5, None, False, 1, A), (5, None, False, 3, A), (5, None, False, 26, A),
    (6, 0, False, None, R), (7, None, False, None, R), (8, None, False, None, U), (-1, None, False, None, U),
])
def test_condor_status(code: int, exit_code: int | None, by_signal: bool, hold: int | None,
                       expected: PilotStatus) -> None:
    assert condor_status(code, exit_code, by_signal, hold) is expected


def test_condor_q_every_state(condor: HTCondor) -> None:
    ids = [*EXPECTED_QUEUE, "4321.99"]
    assert condor.parse_status(sample("htcondor", "condor_q_all_states.txt"), ids) == EXPECTED_QUEUE


def test_jobs_not_asked_for_are_left_out(condor: HTCondor) -> None:
    statuses = condor.parse_status(sample("htcondor", "condor_q_all_states.txt"), ["4399.0", "4321.1"])
    assert statuses == {"4399.0": R, "4321.1": R}


def test_history(condor: HTCondor) -> None:
    statuses = condor.parse_history(sample("htcondor", "condor_history.txt"),
                                    ["4320.0", "4320.1", "4320.2", "4320.3"])
    assert statuses == {"4320.0": D, "4320.1": F, "4320.2": F, "4320.3": A}


def test_empty_queue_means_the_jobs_left_it(condor: HTCondor) -> None:
    assert condor.parse_status("", ["4321.0"]) == {}
    assert condor.parse_history("\n", ["4321.0"]) == {}


def test_garbage_status_output_is_an_error(condor: HTCondor) -> None:
    with pytest.raises(CEError, match=r"HTCondor: unexpected condor_q line .*Failed to fetch ads"):
        condor.parse_status(sample("htcondor", "condor_q_garbage.txt"), ["4321.0"])
    with pytest.raises(CEError, match="unexpected condor_history line"):
        condor.parse_history("4321.0 4 0\n", ["4321.0"])


def test_non_numeric_job_status_is_an_error(condor: HTCondor) -> None:
    with pytest.raises(CEError, match=r"JobStatus 'Running' of job 4321.0 is not a number"):
        condor.parse_status("4321.0 Running undefined undefined undefined\n", ["4321.0"])


# -- submission ----------------------------------------------------------------


@pytest.mark.parametrize(("name", "count", "expected"), [
    ("submit_single.txt", 1, ["4321.0"]),
    ("submit_array.txt", 10, [f"4321.{i}" for i in range(10)]),
    ("submit_two_clusters.txt", 5, ["4400.0", "4400.1", "4400.2", "4401.0", "4401.1"]),
])
def test_parse_submit(condor: HTCondor, name: str, count: int, expected: list[str]) -> None:
    assert condor.parse_submit(sample("htcondor", name), submission(count=count)) == expected


def test_parse_submit_fewer_jobs_than_asked_still_returns_them(condor: HTCondor,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    assert condor.parse_submit("7.0 - 7.1\n", submission(count=3)) == ["7.0", "7.1"]
    assert "queued 2 job(s) where 3 were asked" in caplog.text


@pytest.mark.parametrize(("text", "message"), [
    ("", "printed nothing"),
    ("   \n", "printed nothing"),
    (sample("htcondor", "submit_garbage.txt"), "no job id in the submit command's output .*schedd"),
    (sample("htcondor", "submit_bad_range.txt"), "impossible job range '4500.0 - 4501.3'"),
    ("4500.3 - 4500.1\n", "impossible job range"),
])
def test_parse_submit_errors(condor: HTCondor, text: str, message: str) -> None:
    with pytest.raises(CEError, match=message):
        condor.parse_submit(text, submission())


def test_submit_command_with_every_option(condor: HTCondor) -> None:
    argv = condor.submit_command(full_submission())
    assert argv[:4] == ["condor_submit", "-terse", "-batch-name", "dirac-pilot"]
    assert argv[4:6] == ["--site-option", "x y"]
    assert argv[-2:] == ["-queue", "3"]
    commands = dict(word.split("=", 1) for word in argv[6:-2])
    assert commands == {
        "universe": "vanilla", "executable": SCRIPT,
        "output": f"{OUTPUT_DIR}/$(Cluster).$(Process).out",
        "error": f"{OUTPUT_DIR}/$(Cluster).$(Process).err",
        "request_cpus": "4", "request_memory": "8000", "allowed_execute_duration": "88205",
        "environment": condor_environment({"DIRAC_PILOT_STAMP": "a1b2c3",
                                           "DIRAC_NOTE": "spaces, commas 'and' \"quotes\""}),
    }
    assert "long" not in argv   # HTCondor has no queues


def test_submit_command_minimal(condor: HTCondor) -> None:
    argv = condor.submit_command(submission())
    assert argv == ["condor_submit", "-terse", "-batch-name", "dirac-pilot", "universe=vanilla",
                    f"executable={SCRIPT}", f"output={OUTPUT_DIR}/$(Cluster).$(Process).out",
                    f"error={OUTPUT_DIR}/$(Cluster).$(Process).err", "request_cpus=1", "-queue", "1"]


def test_output_files_match_the_submitted_paths(condor: HTCondor) -> None:
    argv = condor.submit_command(submission(output_dir="/data/pilot output/"))
    templates = {word.split("=", 1)[0]: word.split("=", 1)[1] for word in argv if "=" in word}
    job_id = "4321.7"
    expand = {"$(Cluster)": "4321", "$(Process)": "7"}

    def resolve(template: str) -> str:
        return re.sub(r"\$\((Cluster|Process)\)", lambda m: expand[m.group(0)], template)

    out, err = condor.output_files(job_id, "/data/pilot output/")
    submitted = tuple(posixpath.normpath(resolve(templates[key])) for key in ("output", "error"))
    assert submitted == (out, err) == ("/data/pilot output/4321.7.out", "/data/pilot output/4321.7.err")


def test_invalid_submission_is_refused(condor: HTCondor) -> None:
    with pytest.raises(CEError, match=r"HTCondor: invalid submission: count must be at least 1, got 0"):
        condor.submit_command(submission(count=0))
    with pytest.raises(CEError, match=r"processors must be at least 1.*memory_mb must be positive"):
        condor.submit_command(submission(processors=0, memory_mb=0))
    with pytest.raises(CEError, match="script must be a non-empty single line"):
        condor.submit_command(submission(script="a\nb"))


# -- status, history, kill commands ------------------------------------------------


def test_status_command(condor: HTCondor) -> None:
    assert condor.status_command(["12.0", "12.1"]) == [
        "condor_q", "12.0", "12.1", "-af:j", "JobStatus", "ExitCode", "ExitBySignal", "HoldReasonCode"]


def test_history_command(condor: HTCondor) -> None:
    argv = condor.history_command(["12.0", "13.4"])
    assert argv[:3] == ["condor_history", "-match", "2"]
    assert argv[3:5] == ["-constraint",
                         "(ClusterId == 12 && ProcId == 0) || (ClusterId == 13 && ProcId == 4)"]
    assert argv[5:] == ["-af:j", "JobStatus", "ExitCode", "ExitBySignal", "HoldReasonCode"]


def test_kill_command(condor: HTCondor) -> None:
    assert condor.kill_command(["12.0", "12.1"]) == ["condor_rm", "12.0", "12.1"]


def test_remote_schedd_on_every_command() -> None:
    condor = HTCondor(schedd="ce01.example.org", pool="ce01.example.org:9619")
    target = ["-name", "ce01.example.org", "-pool", "ce01.example.org:9619"]
    assert condor.submit_command(submission())[2:6] == target
    assert condor.status_command(["1.0"])[1:5] == target
    assert condor.history_command(["1.0"])[1:5] == target
    assert condor.kill_command(["1.0"]) == ["condor_rm", *target, "1.0"]


@pytest.mark.parametrize("bad", [[], ["12"], ["12.0; rm -rf /"], ["12.0", "x.1"], ["-constraint"]])
def test_job_ids_are_checked(condor: HTCondor, bad: list[str]) -> None:
    for command in (condor.status_command, condor.history_command, condor.kill_command):
        with pytest.raises(CEError, match=r"HTCondor: (no job ids given|not job ids of this batch system)"):
            command(bad)


# -- environment quoting -------------------------------------------------------------


@pytest.mark.parametrize(("environment", "expected"), [
    ({"A": "1"}, '"A=1"'),
    ({"A": "1", "B": "two"}, '"A=1 B=two"'),
    ({"A": "x y"}, "\"'A=x y'\""),
    ({"A": "it's"}, "\"'A=it''s'\""),
    ({"A": 'say "hi"'}, "\"'A=say \"\"hi\"\"'\""),
    ({"A": "$(HOME)"}, '"A=$(DOLLAR)(HOME)"'),
    ({}, '""'),
])
def test_condor_environment(environment: dict[str, str], expected: str) -> None:
    assert condor_environment(environment) == expected


@pytest.mark.parametrize(("environment", "message"), [
    ({"1A": "x"}, "invalid environment variable name '1A'"),
    ({"A B": "x"}, "invalid environment variable name"),
    ({"A": "x\ny"}, "environment variable A holds a line break"),
])
def test_condor_environment_refuses(environment: dict[str, str], message: str) -> None:
    with pytest.raises(CEError, match=message):
        condor_environment(environment)


def _decode_environment(text: str) -> dict[str, str]:
    """The submit manual's new-syntax rules, applied independently of the encoder."""
    assert text.startswith('"') and text.endswith('"')
    body = text[1:-1].replace('""', '"')
    entries: list[str] = []
    current, quoted, i = "", False, 0
    while i < len(body):
        char = body[i]
        if char == "'":
            if quoted and body[i + 1:i + 2] == "'":
                current, i = current + "'", i + 2
                continue
            quoted, i = not quoted, i + 1
            continue
        if char.isspace() and not quoted:
            if current:
                entries.append(current)
            current, i = "", i + 1
            continue
        current, i = current + char, i + 1
    if current:
        entries.append(current)
    pairs = (entry.split("=", 1) for entry in entries)
    return {name: value.replace("$(DOLLAR)", "$") for name, value in pairs}


@given(st.dictionaries(
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True),
    st.text(st.characters(blacklist_characters="\r\n\0", blacklist_categories=("Cs",)), min_size=1,
            max_size=20).filter(lambda v: v == v.strip() and not any(c.isspace() for c in v[:1] + v[-1:])),
    max_size=4))
def test_condor_environment_round_trips(environment: dict[str, str]) -> None:
    assert _decode_environment(condor_environment(environment)) == environment

"""The LSF batch-system driver on recorded outputs (samples/lsf) and on the commands it builds."""

from __future__ import annotations

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
from dirac_plugins_ce.batch.lsf import JOB_STATES, LSF, lsf_status

#: bjobs.txt: job -> expected pilot status.
EXPECTED = {
    "30400": W,      # PEND
    "30401": W,      # PSUSP
    "30402": W,      # WAIT
    "30403": W,      # PROV
    "30404": R,      # RUN
    "30405": R,      # USUSP
    "30406": R,      # SSUSP
    "30407": D,      # DONE
    "30408": F,      # EXIT 1
    "30409": A,      # EXIT without exit code: never started
    "30410": A,      # ZOMBI
    "30411": U,      # UNKWN
    "30413[1]": R,
    "30413[2]": D,
    "30413[3]": F,   # EXIT 127
    "30413[4]": W,
}

DOCUMENTED_STATES = {"PEND", "PSUSP", "RUN", "USUSP", "SSUSP", "DONE", "EXIT", "UNKWN", "WAIT", "ZOMBI",
                     "PROV"}


@pytest.fixture
def lsf() -> LSF:
    return LSF()


def test_registered_as_lsf() -> None:
    assert declared_batch_system("lsf") is LSF


# -- statuses ----------------------------------------------------------------


def test_every_documented_state_is_mapped() -> None:
    assert set(JOB_STATES) == DOCUMENTED_STATES


@pytest.mark.parametrize(("stat", "exit_code", "expected"), [
    ("PEND", "-", W), ("PSUSP", "-", W), ("WAIT", "-", W), ("PROV", "-", W), ("RUN", "-", R),
    ("USUSP", "-", R), ("SSUSP", "-", R), ("DONE", "-", D), ("DONE", "0", D), ("EXIT", "1", F),
    ("EXIT", "130", F), ("EXIT", "-", A), ("EXIT", "", A), ("ZOMBI", "-", A), ("UNKWN", "-", U),
    ("NEWSTATE", "-", U),
])
def test_lsf_status(stat: str, exit_code: str, expected: PilotStatus) -> None:
    assert lsf_status(stat, exit_code) is expected


def test_bjobs_every_state(lsf: LSF) -> None:
    assert lsf.parse_status(sample("lsf", "bjobs.txt"), [*EXPECTED, "30499"]) == EXPECTED


def test_jobs_not_asked_for_are_left_out(lsf: LSF) -> None:
    assert lsf.parse_status(sample("lsf", "bjobs.txt"), ["30413[3]", "30413"]) == {"30413[3]": F}


def test_empty_bjobs_output_means_no_known_job(lsf: LSF) -> None:
    assert lsf.parse_status("\n", ["30400"]) == {}


@pytest.mark.parametrize("text", [sample("lsf", "bjobs_default_format.txt"), "30400|0|PEND\n",
                                  "x|0|PEND|-\n", "30400|a|PEND|-\n"])
def test_garbage_bjobs_output_is_an_error(lsf: LSF, text: str) -> None:
    expected = r"LSF: unexpected bjobs line .*expected 'jobid\|jobindex\|stat\|exit_code'"
    with pytest.raises(CEError, match=expected):
        lsf.parse_status(text, ["30400"])


# -- submission ----------------------------------------------------------------


def test_parse_submit(lsf: LSF) -> None:
    assert lsf.parse_submit(sample("lsf", "bsub.txt"), submission()) == ["30412"]
    assert lsf.parse_submit(sample("lsf", "bsub_esub.txt"), submission()) == ["30414"]
    assert lsf.parse_submit(sample("lsf", "bsub_array.txt"), submission(count=3)) == [
        "30413[1]", "30413[2]", "30413[3]"]


@pytest.mark.parametrize(("text", "message"), [
    ("", "LSF: the submit command printed nothing"),
    (sample("lsf", "bsub_garbage.txt"), "LSF: no job id in the submit command's output .*esub"),
])
def test_parse_submit_errors(lsf: LSF, text: str, message: str) -> None:
    with pytest.raises(CEError, match=message):
        lsf.parse_submit(text, submission())


def test_submit_command_with_every_option(lsf: LSF) -> None:
    argv = lsf.submit_command(full_submission())
    assert argv[:3] == ["env", "DIRAC_PILOT_STAMP=a1b2c3", "DIRAC_NOTE=spaces, commas 'and' \"quotes\""]
    bsub = argv[3:]
    assert bsub[0] == "bsub"
    assert value(bsub, "-J") == "dirac-pilot[1-3]"
    assert value(bsub, "-o") == f"{OUTPUT_DIR}/%J.%I.out"
    assert value(bsub, "-e") == f"{OUTPUT_DIR}/%J.%I.err"
    assert value(bsub, "-q") == "long"
    assert value(bsub, "-n") == "4"
    assert value(bsub, "-R") == "span[hosts=1]"
    assert value(bsub, "-M") == "8000MB"
    assert value(bsub, "-W") == "1471"   # 24 h 30 min 5 s, rounded up to minutes
    assert bsub[-3:] == ["--site-option", "x y", SCRIPT]


def test_submit_command_minimal(lsf: LSF) -> None:
    assert lsf.submit_command(submission()) == [
        "bsub", "-J", "dirac-pilot", "-o", f"{OUTPUT_DIR}/%J.out", "-e", f"{OUTPUT_DIR}/%J.err", SCRIPT]


@pytest.mark.parametrize(("job_id", "count"), [("30412", 1), ("30413[2]", 3)])
def test_output_files_match_the_submitted_paths(lsf: LSF, job_id: str, count: int) -> None:
    argv = lsf.submit_command(submission(count=count))
    job, _, index = job_id.rstrip("]").partition("[")
    expand = {"%J": job, "%I": index}
    submitted = []
    for flag in ("-o", "-e"):
        path = value(argv, flag)
        for token, replacement in expand.items():
            path = path.replace(token, replacement)
        submitted.append(path)
    assert tuple(submitted) == lsf.output_files(job_id, OUTPUT_DIR)


def test_invalid_submission_is_refused(lsf: LSF) -> None:
    with pytest.raises(CEError, match="LSF: invalid submission: count must be at least 1"):
        lsf.submit_command(submission(count=-2))


# -- status and kill commands --------------------------------------------------


def test_status_command(lsf: LSF) -> None:
    assert lsf.status_command(["30412", "30413[2]"]) == [
        "bjobs", "-a", "-noheader", "-o", "jobid jobindex stat exit_code delimiter='|'", "30412", "30413[2]"]


def test_kill_command(lsf: LSF) -> None:
    assert lsf.kill_command(["30412", "30413[2]"]) == ["bkill", "30412", "30413[2]"]


@pytest.mark.parametrize("bad", [[], ["30412.1"], ["30413[]"], ["-a"], ["0 1"]])
def test_job_ids_are_checked(lsf: LSF, bad: list[str]) -> None:
    for command in (lsf.status_command, lsf.kill_command):
        with pytest.raises(CEError, match=r"LSF: (no job ids given|not job ids of this batch system)"):
            command(bad)

"""The Grid Engine batch-system driver on recorded outputs (samples/sge) and on the commands it builds.

The qacct loop of ``history_command`` is also run for real against a
stand-in ``qacct`` that records its arguments.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

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
    values,
)

from dirac_core.errors import CEError
from dirac_core.model.pilot import PilotStatus
from dirac_plugins_ce.batch.sge import JOB_STATES, SGE, accounting_status, sge_status

#: qstat(1) lists these state strings; each with the pilot status it must give.
DOCUMENTED_STATES = {
    "qw": W, "hqw": W, "hRwq": W, "Rq": W,
    "r": R, "t": R, "Rr": R, "Rt": R, "s": R, "ts": R, "S": R, "tS": R, "T": R, "tT": R, "Rs": R,
    "Rts": R, "RS": R, "RtS": R, "RT": R, "RtT": R,
    "Eqw": F, "Ehqw": F, "EhRqw": F,
    "dr": A, "dt": A, "dRr": A, "dRt": A, "ds": A, "dS": A, "dT": A, "dRs": A, "dRS": A, "dRT": A,
}

#: qstat_xml.txt: job -> expected pilot status.
EXPECTED_QSTAT = {
    "77010": R, "77011": R, "77012": R, "77013": R, "77014": R, "77015": R, "77016": A, "77017": R,
    "77018": A, "77030": R,
    "77020": W, "77021": W, "77022": W, "77023": F, "77024": F, "77025": W,
    "77002.1": R, "77002.2": R, "77002.3": W, "77002.4": W, "77002.5": W,
}

#: qacct.txt: job -> expected pilot status.
EXPECTED_QACCT = {
    "77100": D,     # failed 0, exit 0
    "77101": F,     # failed 0, exit 2
    "77102": A,     # failed 100, exit 137: qdel
    "77103": F,     # failed 37: h_rt limit
    "77104.2": D,   # array task
    "77105": A,     # deleted_by (Univa)
    "77106": D,     # deleted_by NONE
}


@pytest.fixture
def sge() -> SGE:
    return SGE()


def test_registered_as_sge() -> None:
    assert declared_batch_system("sge") is SGE


# -- statuses ----------------------------------------------------------------


def test_every_documented_state_is_in_the_table() -> None:
    assert dict(JOB_STATES) == DOCUMENTED_STATES


@pytest.mark.parametrize(("state", "expected"), list(DOCUMENTED_STATES.items()))
def test_documented_state(state: str, expected: PilotStatus) -> None:
    assert sge_status(state) is expected


@pytest.mark.parametrize(("state", "expected"), [
    ("P", R), ("N", R), ("Rts", R), ("dP", A), ("Ehw", F), ("hw", W), ("z", U), ("", U), ("?", U),
])
def test_states_outside_the_table_follow_their_letters(state: str, expected: PilotStatus) -> None:
    assert sge_status(state) is expected


@pytest.mark.parametrize(("failed", "exit_status", "deleted", "expected"), [
    (0, 0, False, D), (0, 1, False, F), (0, 137, False, F), (100, 137, False, A), (100, 143, False, A),
    (100, 1, False, F), (37, 137, False, F), (26, 0, False, F), (100, 0, True, A), (0, 0, True, A),
])
def test_accounting_status(failed: int, exit_status: int, deleted: bool, expected: PilotStatus) -> None:
    assert accounting_status(failed, exit_status, deleted=deleted) is expected


def test_qstat_every_state(sge: SGE) -> None:
    ids = [*EXPECTED_QSTAT, "77002.6", "77002", "88888"]
    assert sge.parse_status(sample("sge", "qstat_xml.txt"), ids) == EXPECTED_QSTAT


def test_array_tasks_match_only_their_entries(sge: SGE) -> None:
    text = sample("sge", "qstat_xml.txt")
    assert sge.parse_status(text, ["77002"]) == {}           # an array job is asked for by task
    assert sge.parse_status(text, ["77010.1"]) == {}         # a plain job has no tasks
    stepped = ("<job_info><job_info><job_list state='pending'><JB_job_number>5</JB_job_number>"
               "<state>qw</state><tasks>1,4-10:3</tasks></job_list></job_info></job_info>")
    assert sge.parse_status(stepped, [f"5.{t}" for t in range(1, 12)]) == {
        "5.1": W, "5.4": W, "5.7": W, "5.10": W}


def test_no_job_listed(sge: SGE) -> None:
    assert sge.parse_status(sample("sge", "qstat_xml_empty.txt"), ["77010"]) == {}


@pytest.mark.parametrize(("text", "message"), [
    ("", r"SGE: qstat -xml printed nothing"),
    (sample("sge", "qstat_garbage.txt"), r"SGE: qstat -xml output is not XML .*commlib error"),
    ("<?xml version='1.0'?>\n<unexpected/>\n", r"root <unexpected>, expected <job_info>"),
])
def test_garbage_qstat_output_is_an_error(sge: SGE, text: str, message: str) -> None:
    with pytest.raises(CEError, match=message):
        sge.parse_status(text, ["77010"])


def test_qacct_records(sge: SGE) -> None:
    assert sge.parse_history(sample("sge", "qacct.txt"), [*EXPECTED_QACCT, "77104"]) == EXPECTED_QACCT


def test_empty_qacct_output(sge: SGE) -> None:
    assert sge.parse_history("", ["77100"]) == {}


def test_garbage_qacct_output_is_an_error(sge: SGE) -> None:
    with pytest.raises(CEError, match=r"SGE: no accounting record in qacct output .*Total System Usage"):
        sge.parse_history(sample("sge", "qacct_garbage.txt"), ["77100"])


# -- submission ----------------------------------------------------------------


@pytest.mark.parametrize(("name", "expected"), [
    ("qsub_terse.txt", ["77001"]),
    ("qsub_terse_array.txt", ["77002.1", "77002.2", "77002.3", "77002.4", "77002.5"]),
    ("qsub_verbose.txt", ["77004"]),
    ("qsub_verbose_array.txt", ["77003.1", "77003.2", "77003.3"]),
])
def test_parse_submit(sge: SGE, name: str, expected: list[str]) -> None:
    assert sge.parse_submit(sample("sge", name), submission(count=len(expected))) == expected


def test_parse_submit_stepped_range(sge: SGE) -> None:
    assert sge.parse_submit("90.2-8:3\n", submission(count=3)) == ["90.2", "90.5", "90.8"]


@pytest.mark.parametrize(("text", "message"), [
    ("", "SGE: the submit command printed nothing"),
    (sample("sge", "qsub_garbage.txt"), "SGE: no job id in the submit command's output .*unknown queue"),
])
def test_parse_submit_errors(sge: SGE, text: str, message: str) -> None:
    with pytest.raises(CEError, match=message):
        sge.parse_submit(text, submission())


def test_submit_command_with_every_option(sge: SGE) -> None:
    argv = sge.submit_command(full_submission())
    assert argv[:3] == ["env", "DIRAC_PILOT_STAMP=a1b2c3", "DIRAC_NOTE=spaces, commas 'and' \"quotes\""]
    qsub = argv[3:]
    assert qsub[:2] == ["qsub", "-terse"]
    assert value(qsub, "-N") == "dirac-pilot"
    assert value(qsub, "-b") == "y"
    assert value(qsub, "-o") == f"{OUTPUT_DIR}/$JOB_ID.$TASK_ID.out"
    assert value(qsub, "-e") == f"{OUTPUT_DIR}/$JOB_ID.$TASK_ID.err"
    assert value(qsub, "-q") == "long"
    assert qsub[qsub.index("-pe"):qsub.index("-pe") + 3] == ["-pe", "smp", "4"]
    assert values(qsub, "-l") == ["h_vmem=2000M", "h_rt=88205"]   # memory per slot
    assert value(qsub, "-v") == "DIRAC_PILOT_STAMP,DIRAC_NOTE"
    assert value(qsub, "-t") == "1-3"
    assert qsub[-3:] == ["--site-option", "x y", SCRIPT]


def test_submit_command_minimal(sge: SGE) -> None:
    assert sge.submit_command(submission()) == [
        "qsub", "-terse", "-N", "dirac-pilot", "-b", "y", "-o", f"{OUTPUT_DIR}/$JOB_ID.out",
        "-e", f"{OUTPUT_DIR}/$JOB_ID.err", SCRIPT]


def test_site_specific_pe_and_memory_resource() -> None:
    sge = SGE(parallel_environment="mpislots", memory_resource="mem_free")
    argv = sge.submit_command(submission(processors=3, memory_mb=1000))
    assert argv[argv.index("-pe") + 1] == "mpislots"
    assert value(argv, "-l") == "mem_free=334M"   # 1000 / 3, rounded up


@pytest.mark.parametrize(("job_id", "count"), [("77001", 1), ("77002.4", 5)])
def test_output_files_match_the_submitted_paths(sge: SGE, job_id: str, count: int) -> None:
    argv = sge.submit_command(submission(count=count))
    job, _, task = job_id.partition(".")
    submitted = tuple(value(argv, flag).replace("$JOB_ID", job).replace("$TASK_ID", task)
                      for flag in ("-o", "-e"))
    assert submitted == sge.output_files(job_id, OUTPUT_DIR)


# -- status, history and kill commands -----------------------------------------------


def test_status_command(sge: SGE) -> None:
    assert sge.status_command(["77001", "77002.3"]) == ["qstat", "-xml"]


def test_kill_command(sge: SGE) -> None:
    assert sge.kill_command(["77001", "77002.3"]) == ["qdel", "77001", "77002.3"]


def test_history_loop_runs_qacct_per_job(sge: SGE, tmp_path: Path) -> None:
    fake = tmp_path / "qacct"
    fake.write_text('#!/bin/sh\necho "qacct $*" >>"$QACCT_LOG"\n[ "$2" = 77100 ] || exit 1\n'
                    "echo record\n")
    fake.chmod(0o755)
    log = tmp_path / "log"
    env = {**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}", "QACCT_LOG": str(log)}
    done = subprocess.run(sge.history_command(["77100", "77104.2"]), env=env, capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0   # a job missing from the accounting is no failure
    assert done.stdout == "record\n"
    assert log.read_text().splitlines() == ["qacct -j 77100", "qacct -j 77104 -t 2"]


@pytest.mark.parametrize("bad", [[], ["77001.x"], ["77001.1.2"], ["-u"], ["1 2"]])
def test_job_ids_are_checked(sge: SGE, bad: list[str]) -> None:
    for command in (sge.status_command, sge.history_command, sge.kill_command):
        with pytest.raises(CEError, match=r"SGE: (no job ids given|not job ids of this batch system)"):
            command(bad)

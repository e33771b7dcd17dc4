"""The PBS (PBS Pro and Torque) driver on recorded outputs (samples/pbs) and on the commands it builds.

The submit command is also run for real against a stand-in ``qsub`` that keeps
what it is given, and the wrapper it received is then run as PBS would run
it, to check that the job's output lands where ``output_files`` says.
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

from dirac_core.errors import CEError, ConfigError
from dirac_core.model.pilot import PilotStatus
from dirac_plugins_ce.batch.pbs import FINISHED_STATES, JOB_STATES, PBS, finished_status, pbs_status

#: qstat_f_pbspro.txt: job -> expected pilot status (state, exit status in the comment).
EXPECTED_PBSPRO = {
    "8130.pbs01": W,     # Q
    "8131.pbs01": W,     # H
    "8132.pbs01": W,     # W
    "8133.pbs01": W,     # T
    "8134.pbs01": R,     # R
    "8135.pbs01": R,     # E
    "8136.pbs01": R,     # S
    "8137.pbs01": R,     # U
    "8138[].pbs01": R,   # B
    "8139.pbs01": U,     # M
    "8140.pbs01": D,     # F, 0
    "8141.pbs01": F,     # F, 1
    "8142.pbs01": A,     # F, 271 = 256 + SIGTERM (qdel)
    "8143.pbs01": A,     # F, no exit status: deleted while queued
    "8144.pbs01": F,     # F, -29 walltime
    "8145[0].pbs01": D,  # X, 0
    "8145[1].pbs01": F,  # X, 2
}

#: qstat_f_torque.txt, asked with the short server name qsub may print.
EXPECTED_TORQUE = {
    "512.torque01": W,      # Q
    "513[0].torque01": R,   # R
    "513[1].torque01": D,   # C, 0
    "514.torque01": F,      # C, 1
    "515.torque01": A,      # C, 271
    "516.torque01": R,      # E
    "517.torque01": W,      # H
    "518.torque01": W,      # W
    "519.torque01": R,      # S
    "520.torque01": W,      # T
    "521.torque01": F,      # C, -11
}


@pytest.fixture
def pbspro() -> PBS:
    return PBS()


@pytest.fixture
def torque() -> PBS:
    return PBS(flavour="torque")


def test_registered_as_pbs() -> None:
    assert declared_batch_system("pbs") is PBS


def test_unknown_flavour_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"flavour: expected one of pbspro, torque, got 'slurm'"):
        PBS(flavour="slurm")


# -- statuses ----------------------------------------------------------------


def test_every_state_letter_is_mapped() -> None:
    assert set(JOB_STATES) == set("QHWTRESUBMCFX")
    assert set("CFX") == FINISHED_STATES


@pytest.mark.parametrize(("state", "exit_status", "expected"), [
    ("Q", None, W), ("H", None, W), ("W", None, W), ("T", None, W), ("R", None, R), ("E", None, R),
    ("S", None, R), ("U", None, R), ("B", None, R), ("M", None, U), ("C", 0, D), ("F", 0, D), ("X", 0, D),
    ("C", 1, F), ("F", 255, F), ("X", 256, F), ("F", 257, A), ("C", 271, A), ("F", -29, F), ("X", None, A),
    ("Z", None, U), ("", None, U),
])
def test_pbs_status(state: str, exit_status: int | None, expected: PilotStatus) -> None:
    assert pbs_status(state, exit_status) is expected


def test_finished_status() -> None:
    assert [finished_status(code) for code in (None, 0, 1, -1, 265, 256)] == [A, D, F, F, A, F]


def test_qstat_pbspro_every_state(pbspro: PBS) -> None:
    ids = [*EXPECTED_PBSPRO, "9999.pbs01"]
    assert pbspro.parse_status(sample("pbs", "qstat_f_pbspro.txt"), ids) == EXPECTED_PBSPRO


def test_qstat_torque_every_state(torque: PBS) -> None:
    assert torque.parse_status(sample("pbs", "qstat_f_torque.txt"), list(EXPECTED_TORQUE)) == EXPECTED_TORQUE


def test_jobs_match_on_sequence_and_index_only(pbspro: PBS) -> None:
    text = sample("pbs", "qstat_f_pbspro.txt")
    assert pbspro.parse_status(text, ["8134", "8145[1].pbs01.example.org"]) == {
        "8134": R, "8145[1].pbs01.example.org": F}
    assert pbspro.parse_status(text, ["8145[2].pbs01"]) == {}


def test_wrapped_attribute_values_are_joined(pbspro: PBS) -> None:
    text = ("Job Id: 1.s\n    Variable_List = A=1,\n\tB=2\n    job_state = F\n    Exit_status = \n\t0\n")
    assert pbspro.parse_status(text, ["1.s"]) == {"1.s": D}


def test_empty_qstat_output_means_no_known_job(pbspro: PBS) -> None:
    assert pbspro.parse_status("", ["8130.pbs01"]) == {}


def test_garbage_qstat_output_is_an_error(pbspro: PBS) -> None:
    with pytest.raises(CEError, match=r"PBS: qstat output does not start with 'Job Id:': .*refused"):
        pbspro.parse_status(sample("pbs", "qstat_garbage.txt"), ["8130.pbs01"])


# -- submission ----------------------------------------------------------------


@pytest.mark.parametrize(("name", "count", "expected"), [
    ("qsub_pbspro.txt", 1, ["8123.pbs01"]),
    ("qsub_pbspro_array.txt", 3, ["8124[0].pbs01", "8124[1].pbs01", "8124[2].pbs01"]),
    ("qsub_torque.txt", 1, ["512.torque01.example.org"]),
    ("qsub_torque_array.txt", 2, ["513[0].torque01.example.org", "513[1].torque01.example.org"]),
    ("qsub_site_banner.txt", 1, ["8125.pbs01"]),
])
def test_parse_submit(pbspro: PBS, name: str, count: int, expected: list[str]) -> None:
    assert pbspro.parse_submit(sample("pbs", name), submission(count=count)) == expected


def test_parse_submit_without_server_name(pbspro: PBS) -> None:
    assert pbspro.parse_submit("77\n", submission()) == ["77"]
    assert pbspro.parse_submit("78[]\n", submission(count=2)) == ["78[0]", "78[1]"]


@pytest.mark.parametrize(("text", "message"), [
    ("", "PBS: the submit command printed nothing"),
    (sample("pbs", "qsub_garbage.txt"), "PBS: no job id in the submit command's output .*per-user limit"),
    ("qsub: Unknown queue MSG=requested queue not found\n", "no job id"),
])
def test_parse_submit_errors(pbspro: PBS, text: str, message: str) -> None:
    with pytest.raises(CEError, match=message):
        pbspro.parse_submit(text, submission())


def _qsub_part(argv: list[str]) -> list[str]:
    return argv[argv.index("qsub"):]


def test_submit_command_pbspro(pbspro: PBS) -> None:
    argv = pbspro.submit_command(full_submission())
    assert argv[:3] == ["env", "DIRAC_PILOT_STAMP=a1b2c3", "DIRAC_NOTE=spaces, commas 'and' \"quotes\""]
    qsub = _qsub_part(argv)
    assert value(qsub, "-N") == "dirac-pilot"
    assert value(qsub, "-S") == "/bin/sh"
    assert value(qsub, "-q") == "long"
    assert values(qsub, "-l") == ["select=1:ncpus=4:mem=8000mb", "walltime=24:30:05"]
    assert value(qsub, "-v") == "DIRAC_PILOT_STAMP,DIRAC_NOTE"
    assert value(qsub, "-J") == "0-2"
    assert "-t" not in qsub
    assert qsub[-2:] == ["--site-option", "x y"]


def test_submit_command_torque(torque: PBS) -> None:
    qsub = _qsub_part(torque.submit_command(full_submission()))
    assert values(qsub, "-l") == ["nodes=1:ppn=4", "mem=8000mb", "walltime=24:30:05"]
    assert value(qsub, "-t") == "0-2"
    assert "-J" not in qsub


def test_submit_command_minimal(pbspro: PBS, torque: PBS) -> None:
    for driver in (pbspro, torque):
        argv = driver.submit_command(submission())
        assert argv[0] == "sh"
        assert _qsub_part(argv) == ["qsub", "-N", "dirac-pilot", "-S", "/bin/sh",
                                    "-o", "/dev/null", "-e", "/dev/null"]
    assert values(_qsub_part(pbspro.submit_command(submission(memory_mb=500))), "-l") == \
        ["select=1:ncpus=1:mem=500mb"]


def test_the_wrapper_names_output_by_job_id(pbspro: PBS) -> None:
    argv = pbspro.submit_command(submission(output_dir="/data/pilot out/"))
    wrapper = argv[argv.index("qsub") - 1]
    assert wrapper.splitlines() == [
        "#!/bin/sh",
        """exec >'/data/pilot out'/"$PBS_JOBID".out 2>'/data/pilot out'/"$PBS_JOBID".err </dev/null""",
        f"exec {SCRIPT}",
    ]


def test_invalid_submission_is_refused(pbspro: PBS) -> None:
    with pytest.raises(CEError, match="PBS: invalid submission: wall_seconds must be positive"):
        pbspro.submit_command(submission(wall_seconds=0))
    with pytest.raises(CEError, match="PBS: invalid environment variable name 'A-B'"):
        pbspro.submit_command(submission(environment={"A-B": "x"}))


def _fake_qsub(tmp_path: Path, answer: str) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    qsub = bin_dir / "qsub"
    qsub.write_text('#!/bin/sh\nprintf "%s\\n" "$@" >"$QSUB_RECORD/args"\n'
                    'printf "%s" "$DIRAC_PILOT_STAMP" >"$QSUB_RECORD/stamp"\n'
                    f'cat >"$QSUB_RECORD/stdin"\necho "{answer}"\n')
    qsub.chmod(0o755)
    return bin_dir


@pytest.mark.parametrize("flavour", ["pbspro", "torque"])
def test_submit_for_real_and_run_the_wrapper(tmp_path: Path, flavour: str) -> None:
    pbs = PBS(flavour=flavour)
    record, out_dir = tmp_path / "record", tmp_path / "pilot output"
    record.mkdir()
    out_dir.mkdir()
    script = tmp_path / "pilot.sh"
    script.write_text('#!/bin/sh\necho "pilot $DIRAC_PILOT_STAMP running"\necho oops >&2\nexit 0\n')
    script.chmod(0o755)
    sub = submission(script=str(script), output_dir=str(out_dir), count=2,
                     environment={"DIRAC_PILOT_STAMP": "feed, 'beef'"})
    env = {**os.environ, "PATH": f"{_fake_qsub(tmp_path, '4242[].pbs01')}:{os.environ['PATH']}",
           "QSUB_RECORD": str(record)}

    done = subprocess.run(pbs.submit_command(sub), env=env, capture_output=True, text=True, check=True)
    job_ids = pbs.parse_submit(done.stdout, sub)
    assert job_ids == ["4242[0].pbs01", "4242[1].pbs01"]
    assert (record / "args").read_text().splitlines() == _qsub_part(pbs.submit_command(sub))[1:]
    assert (record / "stamp").read_text() == "feed, 'beef'"   # what qsub -v DIRAC_PILOT_STAMP copies

    # PBS runs the wrapper with the job's id and the -v variables in its environment
    job_env = {"PATH": os.environ["PATH"], "PBS_JOBID": job_ids[1], "DIRAC_PILOT_STAMP": "feed, 'beef'"}
    subprocess.run(["/bin/sh", "-s"], input=(record / "stdin").read_text(), env=job_env, check=True,
                   text=True)
    out, err = pbs.output_files(job_ids[1], str(out_dir))
    assert Path(out).read_text() == "pilot feed, 'beef' running\n"
    assert Path(err).read_text() == "oops\n"


# -- status and kill commands --------------------------------------------------


def test_status_command(pbspro: PBS, torque: PBS) -> None:
    assert pbspro.status_command(["1.s", "2[0].s"]) == ["qstat", "-x", "-f", "1.s", "2[0].s"]
    assert torque.status_command(["1.s"]) == ["qstat", "-f", "1.s"]
    assert pbspro.history_command(["1.s"]) is None


def test_kill_command(pbspro: PBS) -> None:
    assert pbspro.kill_command(["8124[1].pbs01", "8125"]) == ["qdel", "8124[1].pbs01", "8125"]


def test_output_files(pbspro: PBS) -> None:
    assert pbspro.output_files("8124[1].pbs01", OUTPUT_DIR) == (
        f"{OUTPUT_DIR}/8124[1].pbs01.out", f"{OUTPUT_DIR}/8124[1].pbs01.err")


@pytest.mark.parametrize("bad", [[], ["abc"], ["1.s -x"], ["-f"], ["1.s", "2 3"]])
def test_job_ids_are_checked(pbspro: PBS, bad: list[str]) -> None:
    for command in (pbspro.status_command, pbspro.kill_command):
        with pytest.raises(CEError, match=r"PBS: (no job ids given|not job ids of this batch system)"):
            command(bad)

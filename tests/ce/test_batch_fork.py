"""The fork driver: its commands on recorded outputs, and run for real on this machine.

The live tests run the submit, status and kill commands with ``subprocess``
and poll for the expected status with a deadline; no timing is asserted.
Every process they start is killed at teardown if it is still there.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from batch_sample_helpers import A, D, F, R, U, declared_batch_system, full_submission, sample, submission

from dirac_core.errors import CEError
from dirac_core.model.pilot import PilotStatus
from dirac_core.plugins.batch import BatchSubmission
from dirac_plugins_ce.batch.fork import STATES, Fork

DEADLINE = 30.0
POLL = 0.05

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the fork driver needs a POSIX shell")


@pytest.fixture
def fork() -> Fork:
    return Fork()


def test_registered_as_fork() -> None:
    assert declared_batch_system("fork") is Fork


# -- commands and parsing, no process started ------------------------------------------


def test_states() -> None:
    assert dict(STATES) == {"RUNNING": R, "DONE": D, "FAILED": F, "ABORTED": A, "UNKNOWN": U}


def test_parse_submit(fork: Fork) -> None:
    sub = submission(count=2, output_dir="/home/dirac/fork out")
    assert fork.parse_submit(sample("fork", "submit.txt"), sub) == [
        "31001@/home/dirac/fork out", "31002@/home/dirac/fork out"]


def test_parse_submit_skips_stray_lines(fork: Fork, caplog: pytest.LogCaptureFixture) -> None:
    assert fork.parse_submit("hello\n0042\n", submission()) == ["42@/home/dirac/out"]
    assert "unexpected line 'hello'" in caplog.text


@pytest.mark.parametrize(("text", "message"), [
    ("", "fork: the submit command printed nothing"),
    (sample("fork", "submit_garbage.txt"), "fork: no job id in the submit command's output .*setsid"),
])
def test_parse_submit_errors(fork: Fork, text: str, message: str) -> None:
    with pytest.raises(CEError, match=message):
        fork.parse_submit(text, submission())


def test_parse_status(fork: Fork) -> None:
    ids = [f"3100{i}@/home/dirac/fork out" for i in range(1, 6)]
    assert fork.parse_status(sample("fork", "status.txt"), [*ids[1:], "9@/x"]) == dict(
        zip(ids[1:], [D, F, A, U], strict=True))


@pytest.mark.parametrize(("text", "message"), [
    ("", "fork: the status script printed nothing"),
    (sample("fork", "status_garbage.txt"), "fork: unexpected status line .*ps: not found"),
    ("31001@/x PENDING\n", r"unexpected status line '31001@/x PENDING'"),
    ("RUNNING\n", "unexpected status line 'RUNNING'"),
])
def test_parse_status_errors(fork: Fork, text: str, message: str) -> None:
    with pytest.raises(CEError, match=message):
        fork.parse_status(text, ["31001@/x"])


def test_submit_command_shape(fork: Fork) -> None:
    argv = fork.submit_command(full_submission())
    assert argv[:3] == ["env", "DIRAC_PILOT_STAMP=a1b2c3", "DIRAC_NOTE=spaces, commas 'and' \"quotes\""]
    assert argv[3:5] == ["sh", "-c"]
    assert argv[6:10] == ["dirac-fork", "/home/dirac/pilots/pilot.sh", "/home/dirac/out", "3"]
    assert "setsid" in argv[5] and "$$.exit" in argv[10]
    assert fork.submit_command(submission())[0] == "sh"   # no environment: no env prefix


def test_status_and_kill_commands_pass_ids_as_arguments(fork: Fork) -> None:
    ids = ["123@/a dir", "4567@/b"]
    assert fork.status_command(ids)[:2] == ["sh", "-c"]
    assert fork.status_command(ids)[3:] == ["dirac-fork", *ids]
    assert fork.kill_command(ids)[3:] == ["dirac-fork", *ids]
    assert fork.history_command(ids) is None


@pytest.mark.parametrize("bad", [[], ["1@/x"], ["0@/x"], ["001@/x"], ["010@/x"], ["12"], ["12@"], ["x@/y"],
                                 ["-3@/x"]])
def test_job_ids_are_checked(fork: Fork, bad: list[str]) -> None:
    # PID 1 (or 0, -N) would make kill signal init or whole process groups
    for command in (fork.status_command, fork.kill_command):
        with pytest.raises(CEError, match=r"fork: (no job ids given|not job ids of this batch system)"):
            command(bad)


def test_output_files(fork: Fork) -> None:
    assert fork.output_files("31001@/home/dirac/fork out", "/home/dirac/fork out") == (
        "/home/dirac/fork out/31001.out", "/home/dirac/fork out/31001.err")


def test_invalid_submission_is_refused(fork: Fork) -> None:
    with pytest.raises(CEError, match="fork: invalid submission: count must be at least 1"):
        fork.submit_command(submission(count=0))
    with pytest.raises(CEError, match="fork: invalid environment variable name '1X'"):
        fork.submit_command(submission(environment={"1X": "y"}))


# -- live: the commands run on this machine ------------------------------------------------


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=DEADLINE, check=False,
                          stdin=subprocess.DEVNULL)


def _is_wrapper(pid: int) -> bool:
    try:
        return b"dirac-fork-wrapper" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


@pytest.fixture
def started() -> Iterator[list[int]]:
    """PIDs of the wrappers a test started; their process groups are killed at teardown."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if _is_wrapper(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)


@pytest.fixture
def live(fork: Fork, tmp_path: Path, started: list[int]) -> Callable[..., list[str]]:
    """Submit a script (its text) with ``count`` copies; returns the job ids."""

    def submit(text: str, *, count: int = 1, environment: dict[str, str] | None = None) -> list[str]:
        script = tmp_path / f"script-{len(started)}.sh"
        script.write_text(text)
        script.chmod(0o755)
        sub = BatchSubmission(script=str(script), output_dir=str(tmp_path / "out put"), count=count,
                              environment=environment or {})
        done = _run(fork.submit_command(sub))
        assert done.returncode == 0, done.stderr
        ids = fork.parse_submit(done.stdout, sub)
        started.extend(int(job_id.split("@")[0]) for job_id in ids)
        return ids

    return submit


def _statuses(fork: Fork, ids: list[str]) -> dict[str, PilotStatus]:
    done = _run(fork.status_command(ids))
    assert done.returncode == 0, done.stderr
    return fork.parse_status(done.stdout, ids)


def _wait_for(fork: Fork, ids: list[str], expected: PilotStatus) -> dict[str, PilotStatus]:
    deadline = time.monotonic() + DEADLINE
    while True:
        statuses = _statuses(fork, ids)
        if all(statuses.get(job_id) is expected for job_id in ids):
            return statuses
        if time.monotonic() > deadline:
            pytest.fail(f"not all {expected} within {DEADLINE} s: {statuses}")
        time.sleep(POLL)


def _wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {DEADLINE} s")
        time.sleep(POLL)


def _gate(tmp_path: Path) -> tuple[Path, str]:
    """A file the script waits for, so that it runs until the test opens the gate."""
    gate = tmp_path / "gate"
    return gate, f'while [ ! -e "{gate}" ]; do sleep 0.05; done\n'


def test_live_pilots_run_then_are_done(fork: Fork, live: Callable[..., list[str]], tmp_path: Path) -> None:
    gate, wait = _gate(tmp_path)
    ids = live(f'#!/bin/sh\necho "started $DIRAC_PILOT_STAMP"\n{wait}echo bye >&2\nexit 0\n', count=3,
               environment={"DIRAC_PILOT_STAMP": "stamp with spaces"})
    assert len(set(ids)) == 3
    assert _statuses(fork, ids) == dict.fromkeys(ids, R)   # held by the gate: still running
    gate.touch()
    _wait_for(fork, ids, D)
    for job_id in ids:
        out, err = fork.output_files(job_id, str(tmp_path / "out put"))
        assert Path(out).read_text() == "started stamp with spaces\n"
        assert Path(err).read_text() == "bye\n"


def test_live_non_zero_exit_is_failed(fork: Fork, live: Callable[..., list[str]], tmp_path: Path) -> None:
    [job_id] = live("#!/bin/sh\necho broken >&2\nexit 3\n")
    _wait_for(fork, [job_id], F)
    pid = job_id.split("@")[0]
    assert (tmp_path / "out put" / f"{pid}.exit").read_text() == "3\n"
    assert (tmp_path / "out put" / f"{pid}.err").read_text() == "broken\n"


def test_live_missing_script_is_failed(fork: Fork, tmp_path: Path, started: list[int]) -> None:
    sub = BatchSubmission(script=str(tmp_path / "no-such-script"), output_dir=str(tmp_path / "o"))
    ids = fork.parse_submit(_run(fork.submit_command(sub)).stdout, sub)
    started.extend(int(job_id.split("@")[0]) for job_id in ids)
    _wait_for(fork, ids, F)


def test_live_kill_aborts_the_script_and_its_children(fork: Fork, live: Callable[..., list[str]],
                                                      tmp_path: Path) -> None:
    child_pid_file = tmp_path / "child.pid"
    [job_id] = live(f'#!/bin/sh\nsleep 300 &\necho $! >"{child_pid_file}"\nwait\n')
    _wait_until(child_pid_file.exists, "the script starting its child")
    child = int(child_pid_file.read_text())
    assert _statuses(fork, [job_id]) == {job_id: R}

    killed = _run(fork.kill_command([job_id]))
    assert killed.returncode == 0, killed.stderr
    _wait_for(fork, [job_id], A)
    _wait_until(lambda: not _alive(child), "the script's child being stopped")

    # killing a job that has ended does nothing, and it stays Aborted
    assert _run(fork.kill_command([job_id])).returncode == 0
    assert _statuses(fork, [job_id]) == {job_id: A}


def test_live_kill_of_a_done_job_changes_nothing(fork: Fork, live: Callable[..., list[str]]) -> None:
    [job_id] = live("#!/bin/sh\nexit 0\n")
    _wait_for(fork, [job_id], D)
    assert _run(fork.kill_command([job_id])).returncode == 0
    assert _statuses(fork, [job_id]) == {job_id: D}


def test_live_kill_never_signals_a_process_that_is_not_a_wrapper(fork: Fork, tmp_path: Path) -> None:
    bystander = subprocess.Popen(["sleep", "300"])
    try:
        job_id = f"{bystander.pid}@{tmp_path}"
        assert _statuses(fork, [job_id]) == {job_id: R}   # alive, and no exit file
        assert _run(fork.kill_command([job_id])).returncode == 0
        assert bystander.poll() is None
    finally:
        bystander.kill()
        bystander.wait()


def test_live_wrapper_gone_without_exit_file_is_unknown(fork: Fork, live: Callable[..., list[str]],
                                                        tmp_path: Path) -> None:
    _, wait = _gate(tmp_path)   # never opened
    [job_id] = live(f"#!/bin/sh\n{wait}")
    _wait_for(fork, [job_id], R)
    os.killpg(int(job_id.split("@")[0]), signal.SIGKILL)   # no trap runs: no exit file is written
    _wait_for(fork, [job_id], U)


def test_live_unknown_pid(fork: Fork, tmp_path: Path) -> None:
    # a PID above the kernel's maximum cannot exist
    pid_max_file = Path("/proc/sys/kernel/pid_max")
    pid_max = int(pid_max_file.read_text()) if pid_max_file.exists() else 4194304
    job_id = f"{pid_max + 1}@{tmp_path}"
    assert _statuses(fork, [job_id]) == {job_id: U}


def _alive(pid: int) -> bool:
    return _state(pid) not in (None, "Z")


def test_live_zombie_counts_as_ended(fork: Fork, tmp_path: Path) -> None:
    ended = subprocess.Popen(["true"])   # not waited for until the end: it stays a zombie
    try:
        _wait_until(lambda: _state(ended.pid) == "Z", "the child becoming a zombie")
        job_id = f"{ended.pid}@{tmp_path}"
        assert _statuses(fork, [job_id]) == {job_id: U}
    finally:
        ended.wait()


def _state(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None

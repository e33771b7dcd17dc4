"""The helpers the batch drivers share, and what every one of the six drivers here promises alike."""

from __future__ import annotations

import re
import subprocess

import pytest
from batch_sample_helpers import OUTPUT_DIR, full_submission, submission

from dirac_core.errors import CEError
from dirac_core.model.pilot import PilotStatus
from dirac_core.plugins.batch import BatchSystem
from dirac_plugins_ce.batch.common import (
    check_job_ids,
    check_submission,
    clock,
    env_names,
    env_words,
    excerpt,
    lines,
    minutes,
    pipe_to,
    shell_join,
    status_table,
    submit_error,
    wait_status,
)
from dirac_plugins_ce.batch.fork import Fork
from dirac_plugins_ce.batch.htcondor import HTCondor
from dirac_plugins_ce.batch.lsf import LSF
from dirac_plugins_ce.batch.oar import OAR
from dirac_plugins_ce.batch.pbs import PBS
from dirac_plugins_ce.batch.sge import SGE

DRIVERS: list[type[BatchSystem]] = [HTCondor, PBS, LSF, SGE, OAR, Fork]
#: A job id each driver accepts.
SOME_ID = {HTCondor: "12.0", PBS: "12.server", LSF: "12", SGE: "12", OAR: "12", Fork: "12@/out"}


# -- helpers -------------------------------------------------------------------


def test_pipe_to_feeds_the_text_on_stdin() -> None:
    text = "line one\n'quoted' \"double\" $HOME `x` \\n %s"
    done = subprocess.run(pipe_to(text, ["sh", "-c", 'cat; printf "<%s>" "$@"', "sh", "a b", "$c"]),
                          capture_output=True, text=True, check=True)
    assert done.stdout == text + "\n<a b><$c>"


def test_pipe_to_keeps_the_command_exit_status() -> None:
    assert subprocess.run(pipe_to("x", ["sh", "-c", "cat >/dev/null; exit 7"]), check=False).returncode == 7


@pytest.mark.parametrize(("seconds", "expected"), [
    (1, "0:00:01"), (59, "0:00:59"), (60, "0:01:00"), (3600, "1:00:00"), (86400 + 1800 + 5, "24:30:05"),
    (10 * 86400, "240:00:00"),
])
def test_clock(seconds: int, expected: str) -> None:
    assert clock(seconds) == expected


@pytest.mark.parametrize(("seconds", "expected"), [(1, 1), (60, 1), (61, 2), (3600, 60), (3601, 61)])
def test_minutes_round_up(seconds: int, expected: int) -> None:
    assert minutes(seconds) == expected


@pytest.mark.parametrize(("code", "expected"), [(0, (0, 0)), (256, (1, 0)), (2560, (10, 0)), (9, (0, 9)),
                                                (15, (0, 15)), (139, (0, 11))])
def test_wait_status(code: int, expected: tuple[int, int]) -> None:
    assert wait_status(code) == expected


def test_env_words_and_names() -> None:
    assert env_words({}, "X") == []
    assert env_words({"A": "1", "B_2": "x y"}, "X") == ["env", "A=1", "B_2=x y"]
    assert env_names({"A": "1", "B_2": "x y"}) == "A,B_2"
    with pytest.raises(CEError, match="X: invalid environment variable name 'A=B'"):
        env_words({"A=B": "1"}, "X")
    with pytest.raises(CEError, match="X: environment variable A contains a NUL byte"):
        env_words({"A": "1\0"}, "X")


def test_check_submission_lists_every_problem() -> None:
    with pytest.raises(CEError) as info:
        check_submission(submission(count=0, processors=0, memory_mb=-1, wall_seconds=0, name=""), "Y")
    message = str(info.value)
    assert message.startswith("Y: invalid submission: ")
    assert all(part in message for part in ("count", "processors", "memory_mb", "wall_seconds", "name"))
    assert len(info.value.fields["problems"]) == 5
    check_submission(full_submission(), "Y")   # a valid one passes


def test_check_job_ids() -> None:
    pattern = re.compile(r"\d+")
    assert check_job_ids(("1", "2"), pattern, "Z") == ["1", "2"]
    with pytest.raises(CEError, match="Z: no job ids given"):
        check_job_ids([], pattern, "Z")
    with pytest.raises(CEError, match=r"Z: not job ids of this batch system: \['1x', ' 2'\]"):
        check_job_ids(["1x", "3", " 2"], pattern, "Z")


def test_excerpt_is_bounded() -> None:
    assert excerpt("  short \n") == "'short'"
    long = excerpt("x" * 1000)
    assert len(long) < 320 and long.endswith("...'")


def test_submit_error_messages() -> None:
    assert str(submit_error("S", " \n")) == "S: the submit command printed nothing, expected job ids"
    assert str(submit_error("S", "boom\n")) == "S: no job id in the submit command's output 'boom'"


def test_small_helpers() -> None:
    assert lines(" a \n\n  \nb\n") == ["a", "b"]
    assert shell_join(["env", "A=x y", "/p"]) == "env 'A=x y' /p"
    entries = {"X": PilotStatus.DONE}
    table = status_table(entries)
    entries["X"] = PilotStatus.FAILED
    assert table["X"] is PilotStatus.DONE   # a copy, and read-only
    with pytest.raises(TypeError):
        table["Y"] = PilotStatus.DONE  # type: ignore[index]


# -- every driver --------------------------------------------------------------


@pytest.fixture(params=DRIVERS, ids=[cls.__name__ for cls in DRIVERS])
def driver(request: pytest.FixtureRequest) -> BatchSystem:
    cls: type[BatchSystem] = request.param
    return cls()   # the batch CE builds drivers with no arguments


def test_commands_are_argument_vectors_of_strings(driver: BatchSystem) -> None:
    job = SOME_ID[type(driver)]
    for argv in (driver.submit_command(full_submission()), driver.status_command([job]),
                 driver.kill_command([job]), driver.history_command([job]) or ["-"]):
        assert argv and all(isinstance(word, str) and "\0" not in word for word in argv)


def test_empty_submit_output_is_an_error(driver: BatchSystem) -> None:
    with pytest.raises(CEError, match="the submit command printed nothing"):
        driver.parse_submit("", submission())


def test_no_job_ids_is_an_error(driver: BatchSystem) -> None:
    for command in (driver.status_command, driver.kill_command):
        with pytest.raises(CEError, match="no job ids given"):
            command([])


def test_invalid_submission_is_an_error(driver: BatchSystem) -> None:
    with pytest.raises(CEError, match="invalid submission"):
        driver.submit_command(submission(count=0))


def test_output_files_are_in_the_submission_dir(driver: BatchSystem) -> None:
    out, err = driver.output_files(SOME_ID[type(driver)], OUTPUT_DIR)
    assert out.startswith(OUTPUT_DIR + "/") and out.endswith(".out")
    assert err == out[:-len(".out")] + ".err"


def test_driver_is_a_context_manager(driver: BatchSystem) -> None:
    with driver as entered:
        assert entered is driver

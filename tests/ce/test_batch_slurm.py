"""The Slurm batch-system driver on recorded outputs (samples/slurm) and on the commands it builds."""

from __future__ import annotations

from pathlib import Path

import pytest

from dirac_core.errors import CEError
from dirac_core.model.pilot import PilotStatus
from dirac_core.plugins import PluginGroup, load_driver
from dirac_core.plugins.batch import BatchSubmission
from dirac_plugins_ce.batch.slurm import SLURM_STATES, Slurm, pilot_status

SAMPLES = Path(__file__).parent / "samples" / "slurm"
W, R, D, F, A, U = (PilotStatus.WAITING, PilotStatus.RUNNING, PilotStatus.DONE, PilotStatus.FAILED,
                    PilotStatus.ABORTED, PilotStatus.UNKNOWN)

#: squeue(1) "JOB STATE CODES", in the order of squeue_all_states.txt (ids 1001...), and the
#: pilot status each must give; the last one is a state SLURM does not have (yet).
EXPECTED_STATES: list[tuple[str, str, PilotStatus]] = [
    ("PENDING", "PD", W), ("CONFIGURING", "CF", W), ("REQUEUED", "RQ", W), ("REQUEUE_HOLD", "RH", W),
    ("REQUEUE_FED", "RF", W), ("RESV_DEL_HOLD", "RD", W), ("RUNNING", "R", R), ("COMPLETING", "CG", R),
    ("RESIZING", "RS", R), ("SIGNALING", "SI", R), ("STAGE_OUT", "SO", R), ("SUSPENDED", "S", R),
    ("STOPPED", "ST", R), ("COMPLETED", "CD", D), ("FAILED", "F", F), ("NODE_FAIL", "NF", F),
    ("OUT_OF_MEMORY", "OOM", F), ("TIMEOUT", "TO", F), ("BOOT_FAIL", "BF", F), ("DEADLINE", "DL", F),
    ("SPECIAL_EXIT", "SE", F), ("CANCELLED", "CA", A), ("PREEMPTED", "PR", A), ("REVOKED", "RV", U),
    ("SOME_FUTURE_STATE", "ZZ", U),
]
ALL_IDS = [str(1001 + i) for i in range(len(EXPECTED_STATES))]


def sample(name: str) -> str:
    return (SAMPLES / name).read_text()


def submission(**options: object) -> BatchSubmission:
    return BatchSubmission(script="/home/pilot/submit/pilot.sh", output_dir="/home/pilot/out",
                           **options)  # type: ignore[arg-type]


@pytest.fixture
def slurm() -> Slurm:
    return Slurm()


def test_registered_as_slurm() -> None:
    assert load_driver(PluginGroup.BATCH_SYSTEMS, "slurm") is Slurm


# -- states ------------------------------------------------------------------


def test_every_documented_state_is_mapped() -> None:
    documented = {name for name, _, _ in EXPECTED_STATES[:-1]}
    assert set(SLURM_STATES) == documented


@pytest.mark.parametrize(("name", "code", "expected"), EXPECTED_STATES, ids=[s[0] for s in EXPECTED_STATES])
def test_state_name_and_code(name: str, code: str, expected: PilotStatus) -> None:
    assert pilot_status(name) is expected
    assert pilot_status(code) is expected
    assert pilot_status(name.lower()) is expected


@pytest.mark.parametrize(("text", "expected"), [
    ("CANCELLED by 0", A), ("CANCELLED by 1234", A), ("RUNNING+", R), ("  COMPLETED  ", D), ("", U),
])
def test_state_decorations(text: str, expected: PilotStatus) -> None:
    assert pilot_status(text) is expected


def test_squeue_every_state(slurm: Slurm) -> None:
    statuses = slurm.parse_status(sample("squeue_all_states.txt"), ALL_IDS)
    assert statuses == {job: expected for job, (_, _, expected) in zip(ALL_IDS, EXPECTED_STATES, strict=True)}


def test_squeue_every_compact_code(slurm: Slurm) -> None:
    assert slurm.parse_status(sample("squeue_compact.txt"), ALL_IDS) == \
        slurm.parse_status(sample("squeue_all_states.txt"), ALL_IDS)


def test_squeue_arrays_and_unrequested_jobs(slurm: Slurm) -> None:
    wanted = ["4800_0", "4800_1", "4800_2", "4800_4", "4800_5", "4800_7", "4801", "4802_5", "4803"]
    statuses = slurm.parse_status(sample("squeue_arrays.txt"), wanted)
    assert statuses == {"4800_0": R, "4800_1": R, "4800_2": W, "4800_4": W, "4800_7": W,
                        "4801": D, "4802_5": A}
    assert "9999" not in statuses  # printed, but not asked for


@pytest.mark.parametrize("garbage", ["", "\n\n", "slurm_load_jobs error: Invalid job id specified\n",
                                     "|RUNNING\n", "JOBID|STATE\n1001\n"])
def test_squeue_output_without_requested_jobs(slurm: Slurm, garbage: str) -> None:
    assert slurm.parse_status(garbage, ["1001"]) == {}


def test_sacct_history(slurm: Slurm) -> None:
    wanted = ["5001", "5002", "5003", "5004", "5005", "5006", "5007_0", "5007_1", "5007_2", "5007_3",
              "5008", "5009", "5010", "5011", "5012"]
    assert slurm.parse_history(sample("sacct_history.txt"), wanted) == {
        "5001": D, "5002": F, "5003": A, "5004": F, "5005": F, "5006": F, "5007_0": D, "5007_1": A,
        "5007_2": W, "5007_3": W, "5008": A, "5009": R, "5010": F, "5011": F, "5012": W,
    }


def test_sacct_step_lines_do_not_override_the_job(slurm: Slurm) -> None:
    assert slurm.parse_history(sample("sacct_with_steps.txt"), ["6001", "6002"]) == {"6001": F, "6002": D}


# -- commands ----------------------------------------------------------------


def test_submit_one_pilot(slurm: Slurm) -> None:
    assert slurm.submit_command(submission()) == [
        "sbatch", "--parsable", "--job-name=dirac-pilot", "--nodes=1", "--ntasks=1", "--cpus-per-task=1",
        "--output=/home/pilot/out/%j.out", "--error=/home/pilot/out/%j.err", "/home/pilot/submit/pilot.sh",
    ]


def test_submit_an_array_with_every_option(slurm: Slurm) -> None:
    argv = slurm.submit_command(submission(
        count=3, queue="long", name="pilots", processors=8, memory_mb=16000, wall_seconds=90061,
        extra_options=("--account=lhcb", "--qos=high"), environment={"DIRAC_SITE": "LCG.Test.ch"}))
    assert argv == [
        "env", "DIRAC_SITE=LCG.Test.ch",
        "sbatch", "--parsable", "--job-name=pilots", "--nodes=1", "--ntasks=1", "--cpus-per-task=8",
        "--output=/home/pilot/out/%A_%a.out", "--error=/home/pilot/out/%A_%a.err", "--array=0-2",
        "--partition=long", "--mem=16000M", "--time=1-01:01:01", "--account=lhcb", "--qos=high",
        "/home/pilot/submit/pilot.sh",
    ]


@pytest.mark.parametrize(("seconds", "limit"), [(1, "0-00:00:01"), (59, "0-00:00:59"), (3600, "0-01:00:00"),
                                                (86400 * 3 + 61, "3-00:01:01")])
def test_time_limit(slurm: Slurm, seconds: int, limit: str) -> None:
    assert f"--time={limit}" in slurm.submit_command(submission(wall_seconds=seconds))


def test_submit_refuses_no_jobs_and_bad_names(slurm: Slurm) -> None:
    with pytest.raises(CEError, match="count must be at least 1"):
        slurm.submit_command(submission(count=0))
    with pytest.raises(CEError, match="environment variable name"):
        slurm.submit_command(submission(environment={"BAD NAME": "x"}))


@pytest.mark.parametrize("bad", [[], ["--user=someone"], ["12;34"], ["4711.batch"], ["abc"]])
def test_commands_refuse_what_is_not_a_pilot_id(slurm: Slurm, bad: list[str]) -> None:
    for build in (slurm.status_command, slurm.history_command, slurm.kill_command):
        with pytest.raises(CEError, match="SLURM"):
            build(bad)


@pytest.mark.parametrize(("name", "expected"), [("sbatch_single.txt", "4711"),
                                                ("sbatch_federated.txt", "4712"),
                                                ("sbatch_banner.txt", "4713")])
def test_parse_submit_one(slurm: Slurm, name: str, expected: str) -> None:
    assert slurm.parse_submit(sample(name), submission()) == [expected]


def test_parse_submit_array(slurm: Slurm) -> None:
    assert slurm.parse_submit(sample("sbatch_single.txt"), submission(count=3)) == \
        ["4711_0", "4711_1", "4711_2"]


@pytest.mark.parametrize("stdout", ["", "sbatch: error: Batch job submission failed\n", "12a\n"])
def test_parse_submit_without_id(slurm: Slurm, stdout: str) -> None:
    with pytest.raises(CEError, match=r"SLURM: .*(no job id|printed nothing)"):
        slurm.parse_submit(stdout, submission())


def test_status_history_and_kill_commands(slurm: Slurm) -> None:
    assert slurm.status_command(["1", "2_0"]) == [
        "squeue", "--noheader", "--array", "--states=all", "--jobs=1,2_0", "--format=%i|%T"]
    assert slurm.history_command(["1", "2_0"]) == [
        "sacct", "--noheader", "--parsable2", "--allocations", "--jobs=1,2_0", "--format=JobID,State"]
    assert slurm.kill_command(["1", "2_0"]) == ["scancel", "1", "2_0"]


def test_no_history_without_accounting() -> None:
    assert Slurm(accounting=False).history_command(["1"]) is None


def test_output_files_match_the_submit_patterns(slurm: Slurm) -> None:
    assert slurm.output_files("4711", "/out") == ("/out/4711.out", "/out/4711.err")
    assert slurm.output_files("4711_2", "/out") == ("/out/4711_2.out", "/out/4711_2.err")

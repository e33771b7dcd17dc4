"""The Slurm driver on a real one-node SLURM cluster, through the local and the SSH transport.

The cluster and the SSH server come from :mod:`dirac_core.testing.live`; without
``slurm-wlm``/``munge``/``openssh-server`` these tests skip, and fail in CI.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from ce_live_helpers import current_statuses, ssh_transport, wait_for

from dirac_core.model.pilot import PilotStatus
from dirac_core.plugins.batch import BatchSubmission
from dirac_core.plugins.transport import Transport
from dirac_core.testing.slurm import SlurmCluster
from dirac_plugins_ce.batch.slurm import Slurm
from dirac_plugins_ce.transports import LocalTransport

W, R, D, F, A = (PilotStatus.WAITING, PilotStatus.RUNNING, PilotStatus.DONE, PilotStatus.FAILED,
                 PilotStatus.ABORTED)

PILOT = """#!/bin/sh
echo "pilot $SLURM_JOB_ID task ${SLURM_ARRAY_TASK_ID:-none} site $DIRAC_TEST_SITE"
echo "pilot stderr line" >&2
sleep 3
"""


@pytest.fixture(params=["local", "ssh"])
def transport(request: pytest.FixtureRequest, slurm_cluster: SlurmCluster) -> Iterator[Transport]:
    """A transport whose commands reach the test cluster (SLURM_CONF in their environment)."""
    if request.param == "local":
        with LocalTransport(environment=slurm_cluster.env) as local:
            yield local
    else:
        server = request.getfixturevalue("sshd_server")
        with ssh_transport(server, environment=slurm_cluster.env) as remote:
            yield remote


def submit(transport: Transport, slurm: Slurm, folder: Path, script: str, **options: object) -> tuple[
        BatchSubmission, list[str]]:
    """Write ``script`` through the transport and submit it; the submission and the pilot ids.

    SLURM does not create the output folder (a job whose output file cannot be
    opened fails), so it is made first, as a batch CE must.
    """
    path = str(folder / "pilot.sh")
    transport.write_file(path, script, mode=0o755)
    transport.run(["mkdir", "-p", str(folder / "out")]).check()
    sub = BatchSubmission(script=path, output_dir=str(folder / "out"), **options)  # type: ignore[arg-type]
    result = transport.run(slurm.submit_command(sub)).check()
    return sub, slurm.parse_submit(result.stdout, sub)


def test_pilot_runs_to_done_and_leaves_its_output(transport: Transport, slurm_cluster: SlurmCluster,
                                                   tmp_path: Path) -> None:
    slurm = Slurm()
    sub, ids = submit(transport, slurm, tmp_path, PILOT, queue=slurm_cluster.partition, memory_mb=100,
                      wall_seconds=600, name="dirac-live", environment={"DIRAC_TEST_SITE": "LCG.Test.ch"})
    [job] = ids
    assert job.isdigit()
    assert current_statuses(transport, slurm, ids)[job] in (W, R)  # it sleeps 3 s: not done yet
    wait_for(transport, slurm, ids, {R, D})
    wait_for(transport, slurm, ids, {D})
    out_path, err_path = slurm.output_files(job, sub.output_dir)
    assert transport.read_file(out_path) == f"pilot {job} task none site LCG.Test.ch\n"
    assert transport.read_file(err_path) == "pilot stderr line\n"


def test_array_of_pilots(transport: Transport, slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    slurm = Slurm()
    sub, ids = submit(transport, slurm, tmp_path, "#!/bin/sh\necho task $SLURM_ARRAY_TASK_ID\n", count=2)
    assert len(ids) == 2 and ids[0].endswith("_0") and ids[1].endswith("_1")
    wait_for(transport, slurm, ids, {D})
    for task, job in enumerate(ids):
        assert transport.read_file(slurm.output_files(job, sub.output_dir)[0]) == f"task {task}\n"


def test_failing_pilot_is_failed(transport: Transport, slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    slurm = Slurm()
    _, ids = submit(transport, slurm, tmp_path, "#!/bin/sh\necho broken >&2\nexit 3\n")
    wait_for(transport, slurm, ids, {F})


def test_cancelled_pilot_is_aborted(transport: Transport, slurm_cluster: SlurmCluster,
                                    tmp_path: Path) -> None:
    slurm = Slurm()
    _, ids = submit(transport, slurm, tmp_path, "#!/bin/sh\necho started\nsleep 300\n")
    wait_for(transport, slurm, ids, {R})
    transport.run(slurm.kill_command(ids)).check()
    wait_for(transport, slurm, ids, {A})
    # cancelling a finished job again is not an error for scancel
    assert transport.run(slurm.kill_command(ids)).ok


def test_accounting_history_of_finished_pilots(slurm_accounting: SlurmCluster, tmp_path: Path) -> None:
    slurm = Slurm()
    with LocalTransport(environment=slurm_accounting.env) as transport:
        _, done = submit(transport, slurm, tmp_path / "done", "#!/bin/sh\necho quick\n")
        _, cancelled = submit(transport, slurm, tmp_path / "cancelled", "#!/bin/sh\nsleep 300\n")
        wait_for(transport, slurm, cancelled, {R})
        transport.run(slurm.kill_command(cancelled)).check()
        # sacct alone, as for a job squeue has forgotten
        wait_for(transport, slurm, done, {D}, history=True)
        wait_for(transport, slurm, cancelled, {A}, history=True)

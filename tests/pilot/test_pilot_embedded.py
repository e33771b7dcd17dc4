"""A pilot pulling jobs from an embedded interware: real payload processes, real sandboxes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from pilot_helpers import make_pilot

from dirac_core.interware import Interware
from dirac_core.model.pilot import PilotStatus
from dirac_core.wms.sandbox_archives import unpack
from dirac_core.wms.sandboxes import SandboxStore, default_root


@pytest.fixture
def iw(tmp_path: Path) -> Iterator[Interware]:
    with Interware.embedded(tmp_path / "site") as interware:
        yield interware


def _submit(iw: Interware, jdl: str, count: int = 1) -> list[int]:
    return [job.job_id for job in iw.wms.submit([jdl] * count, iw.identity("alice"))]


def test_a_pilot_runs_every_waiting_job_and_keeps_their_outputs(iw: Interware, tmp_path: Path) -> None:
    ids = _submit(iw, '[Executable = "/bin/sh"; Arguments = "-c \'echo out-$DIRACJOBID; echo x > r.txt\'";'
                      ' OutputSandbox = {"std.out", "r.txt"};]', count=3)
    report = make_pilot(iw, tmp_path / "work").run()
    assert sorted(o.job_id for o in report.outcomes) == ids
    assert report.stopped_because == "no more work"
    rows = iw.wms.get_jobs(ids)
    assert {rows[j]["status"] for j in ids} == {"Done"}
    assert {rows[j]["minor_status"] for j in ids} == {"Execution Complete"}
    params = iw.wms.get_parameters(ids[0])
    assert params["ExitCode"] == "0" and params["StandardOutput"] == f"out-{ids[0]}"
    steps = [(h["status"], h["minor_status"]) for h in iw.wms.history(ids[0])]
    assert ("Running", "Job Initialization") in steps and steps[-1] == ("Done", "Execution Complete")
    store = SandboxStore(database=iw.database, root=default_root(iw.database), clock=iw.clock)  # type: ignore[arg-type]
    pfn = store.of_job(ids[0])["output"][0]
    with store.local_file(pfn) as archive:
        files = unpack(archive, tmp_path / "out")
    assert sorted(p.name for p in files) == ["r.txt", "std.out"]
    assert (tmp_path / "out" / "std.out").read_text().strip() == f"out-{ids[0]}"
    assert iw.pilots.get(["pilot-1"])["pilot-1"]["Status"] == PilotStatus.DONE
    assert iw.wms.jobs_of_pilot("pilot-1") == set(ids)


def test_a_failing_payload_ends_failed_with_its_exit_code(iw: Interware, tmp_path: Path) -> None:
    [job] = _submit(iw, '[Executable = "/bin/sh"; Arguments = "-c \'echo oops >&2; exit 3\'";]')
    [outcome] = make_pilot(iw, tmp_path / "work").run().outcomes
    assert (outcome.status, outcome.exit_code) == ("Failed", 3)
    row = iw.wms.get_jobs([job])[job]
    assert (row["status"], row["minor_status"], row["application_status"]) == (
        "Failed", "Application Finished With Errors", "exit code 3")


def test_a_missing_executable_fails_the_job_not_the_pilot(iw: Interware, tmp_path: Path) -> None:
    bad, good = _submit(iw, '[Executable = "/no/such/program";]') + _submit(iw, '[Executable = "/bin/true";]')
    report = make_pilot(iw, tmp_path / "work", processors=1).run()
    by_id = {o.job_id: o for o in report.outcomes}
    assert by_id[bad].status == "Failed" and by_id[bad].minor_status == "Application not found"
    assert by_id[good].status == "Done"


def test_the_watchdog_stops_a_payload_over_its_wall_clock(iw: Interware, tmp_path: Path) -> None:
    from dirac_core.pilot.watchdog import Limits

    [job] = _submit(iw, '[Executable = "/bin/sleep"; Arguments = "60";]')
    pilot = make_pilot(iw, tmp_path / "work", limits=Limits(wall_seconds=0.2, min_disk_mb=0))
    [outcome] = pilot.run().outcomes
    assert outcome.status == "Failed" and outcome.killed_by is not None
    assert "wall clock limit exceeded" in outcome.minor_status
    row = iw.wms.get_jobs([job])[job]
    assert row["status"] == "Failed" and "wall clock" in row["minor_status"]


def test_a_kill_from_the_server_stops_the_payload(iw: Interware, tmp_path: Path) -> None:
    [job] = _submit(iw, '[Executable = "/bin/sleep"; Arguments = "60";]')
    pilot = make_pilot(iw, tmp_path / "work")
    original = pilot.services.heartbeat

    def heartbeat_then_kill(metrics):  # type: ignore[no-untyped-def]
        iw.wms.kill([job])  # the owner kills it while it runs
        return original(metrics)

    pilot.services.heartbeat = heartbeat_then_kill  # type: ignore[method-assign]
    [outcome] = pilot.run().outcomes
    assert outcome.killed_by == "Kill"
    assert iw.wms.get_jobs([job])[job]["status"] == "Killed"


def test_max_jobs_and_no_time_left_stop_the_pilot(iw: Interware, tmp_path: Path) -> None:
    _submit(iw, '[Executable = "/bin/true";]', count=3)
    report = make_pilot(iw, tmp_path / "w1", max_jobs=1, processors=1).run()
    assert len(report.outcomes) == 1 and "maximum" in report.stopped_because
    pilot = make_pilot(iw, tmp_path / "w2", stamp="pilot-2", min_time_left=100)
    pilot.time_left = lambda: 10.0
    report = pilot.run()
    assert report.outcomes == () and report.stopped_because == "not enough time left"


def test_multi_processor_jobs_share_the_node(iw: Interware, tmp_path: Path) -> None:
    ids = _submit(iw, '[Executable = "/bin/true"; NumberOfProcessors = 2;]', count=2)
    ids += _submit(iw, '[Executable = "/bin/true";]', count=2)
    report = make_pilot(iw, tmp_path / "work").run()
    assert sorted(o.job_id for o in report.outcomes) == sorted(ids)
    assert all(o.status == "Done" for o in report.outcomes)


def test_an_output_sandbox_over_the_limit_fails_the_job_without_a_data_manager(
        iw: Interware, tmp_path: Path) -> None:
    import attrs

    [job] = _submit(iw, '[Executable = "/bin/sh"; Arguments = "-c \'head -c 300000 /dev/zero > big\'";'
                        ' OutputSandbox = {"big"};]')
    pilot = make_pilot(iw, tmp_path / "work")
    pilot.settings = attrs.evolve(pilot.settings, wrapper=attrs.evolve(pilot.settings.wrapper,
                                                                       max_output_sandbox_mb=0.1))
    [outcome] = pilot.run().outcomes
    assert (outcome.status, outcome.minor_status) == ("Failed", "Output Sandbox Too Large")
    assert iw.wms.get_jobs([job])[job]["application_status"] == "0.3 MB > 0.1 MB"


def test_payloads_run_inside_the_container_prefix(iw: Interware, tmp_path: Path) -> None:
    import attrs

    [job] = _submit(iw, '[Executable = "/bin/echo"; Arguments = "inside";]')
    pilot = make_pilot(iw, tmp_path / "work")
    # a stand-in for "apptainer exec --bind DIR IMAGE": a prefix the payload's argv follows
    pilot.settings = attrs.evolve(pilot.settings, wrapper=attrs.evolve(
        pilot.settings.wrapper, container=("/usr/bin/env", "CONTAINED=yes", "/bin/sh", "-c",
                                           'echo "$CONTAINED"; exec "$@"', "wrap")))
    [outcome] = pilot.run().outcomes
    assert outcome.status == "Done"
    assert iw.wms.get_parameters(job)["StandardOutput"] == "yes\ninside"

"""Records are produced as work ends: real jobs run by a local pilot, pilots, transfers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dirac_core.errors import DiracError, InvalidTransition
from dirac_core.interware import Interware
from dirac_core.model import FakeClock
from dirac_core.model.pilot import PilotStatus
from dirac_core.pilot.local import run_local_pilot
from dirac_core.rms import Operation, Request, RequestFile
from dirac_core.wms.pilots import PilotRecord

SITE = "DIRAC.Embedded.local"
BUSY = "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"
LFN = "/demo/user/a/alice/data.bin"


def _jdl(script: str, processors: int = 1) -> str:
    return f'[ Executable = "/bin/sh"; Arguments = "-c \'{script}\'"; NumberOfProcessors = {processors}; ]'


def _records(iw: Interware, kind: str) -> list[dict]:
    return iw.accounting.records(kind, since=datetime(2000, 1, 1, tzinfo=UTC),
                                 until=datetime(2100, 1, 1, tzinfo=UTC))


def test_jobs_run_by_a_local_pilot_are_accounted_once_with_their_cpu_and_wall(
        iw: Interware, tmp_path: Path) -> None:
    alice = iw.identity("alice")
    busy, failing = (j.job_id for j in iw.wms.submit([_jdl(BUSY, processors=2), _jdl("exit 3")], alice))
    report = run_local_pilot(iw, site=SITE, work_dir=tmp_path / "node", processors=2, stamp="local-acc")
    assert sorted((o.job_id, str(o.status)) for o in report.outcomes) == [(busy, "Done"), (failing, "Failed")]

    records = {r["job_id"]: r for r in _records(iw, "job")}
    assert set(records) == {busy, failing}
    done, failed = records[busy], records[failing]
    assert (done["status"], done["site"], done["owner"], done["owner_group"], done["vo"], done["processors"],
            done["job_type"]) == ("Done", SITE, "alice", "demo_user", "demo", 2, "User")
    assert (failed["status"], failed["processors"]) == ("Failed", 1)
    # the wrapper's own figures, as it reported them in the job parameters
    parameters = iw.wms.get_parameters(busy)
    assert done["cpu_seconds"] == float(parameters["TotalCPUTime(s)"]) > 0
    assert done["wall_seconds"] == float(parameters["WallClockTime(s)"]) > 0
    assert done["start_time"] is not None and done["end_time"] >= done["start_time"]
    assert all(row["accounted_flag"] for row in iw.wms.get_jobs([busy, failing]).values())

    # the pilot that ran them ended: one record, with the jobs it ran
    (pilot,) = _records(iw, "pilot")
    assert (pilot["pilot_stamp"], pilot["status"], pilot["jobs"], pilot["site"], pilot["vo"]) == (
        "local-acc", "Done", 2, SITE, "demo")

    # a final status reported again, or accounting asked again, writes nothing more
    iw.wms.set_status({busy: {iw.clock.now() + timedelta(seconds=1): {"Status": "Done", "Source": "test"}}})
    assert iw.accounting.account_jobs([busy, failing]) == []
    assert len(_records(iw, "job")) == 2


def _force(iw: Interware, clock: FakeClock, job_id: int, *statuses: str) -> None:
    for status in statuses:
        clock.advance(60)
        iw.wms.set_status({job_id: {clock.now(): {"Status": status, "Source": "test"}}}, force=True)


def test_a_rescheduled_job_is_accounted_for_each_execution(iw: Interware, fake_clock: FakeClock) -> None:
    (job,) = (j.job_id for j in iw.wms.submit(_jdl("true"), iw.identity("alice")))
    _force(iw, fake_clock, job, "Running", "Failed")
    iw.wms.reschedule([job])
    assert not iw.wms.get_jobs([job])[job]["accounted_flag"]
    fake_clock.advance(600)
    _force(iw, fake_clock, job, "Running", "Done")
    records = _records(iw, "job")
    assert [(r["job_id"], r["status"]) for r in records] == [(job, "Failed"), (job, "Done")]
    # no wrapper figures: the wall time is each execution's, from its Running to its end
    assert [(r["cpu_seconds"], r["wall_seconds"]) for r in records] == [(0.0, 60.0), (0.0, 60.0)]
    assert records[1]["start_time"] == fake_clock.now() - timedelta(seconds=60)


def test_a_killed_waiting_job_is_accounted_without_usage(iw: Interware) -> None:
    (job,) = (j.job_id for j in iw.wms.submit(_jdl("true"), iw.identity("alice")))
    iw.wms.kill([job])
    (record,) = _records(iw, "job")
    assert (record["job_id"], record["status"], record["cpu_seconds"], record["wall_seconds"],
            record["start_time"]) == (job, "Killed", 0.0, 0.0, None)


def test_a_pilot_is_accounted_when_it_ends_with_its_running_time(iw: Interware,
                                                                  fake_clock: FakeClock) -> None:
    iw.pilots.register([PilotRecord(pilot_stamp="p-run", vo="demo", grid_site="LCG.Test.org",
                                    destination_site="ce1.test.org", queue="long"),
                        PilotRecord(pilot_stamp="p-abort", vo="demo", grid_site="LCG.Test.org",
                                    destination_site="ce2.test.org")])
    fake_clock.advance(30)
    iw.pilots.set_status({"p-run": (PilotStatus.RUNNING, "started")})
    assert _records(iw, "pilot") == []  # running: nothing to account yet
    fake_clock.advance(600)
    iw.pilots.set_status({"p-run": (PilotStatus.DONE, "finished"), "p-abort": (PilotStatus.ABORTED, "no")})
    found = {r["pilot_stamp"]: r for r in _records(iw, "pilot")}
    assert {k: (r["status"], r["site"], r["ce"], r["queue"], r["jobs"], r["wall_seconds"])
            for k, r in found.items()} == {
        "p-run": ("Done", "LCG.Test.org", "ce1.test.org", "long", 0, 600.0),
        "p-abort": ("Aborted", "LCG.Test.org", "ce2.test.org", "", 0, 0.0)}
    assert found["p-run"]["end_time"] == fake_clock.now()
    # a late report cannot end a pilot twice
    refused = iw.pilots.set_status({"p-run": (PilotStatus.FAILED, "late")})
    assert isinstance(refused.failed["p-run"], InvalidTransition)
    assert len(_records(iw, "pilot")) == 2


def test_uploads_replications_and_downloads_are_data_operations(iw: Interware, tmp_path: Path) -> None:
    source = tmp_path / "data.bin"
    source.write_bytes(b"x" * 4096)
    alice = iw.identity("alice")
    iw.data_manager(alice).put_and_register(LFN, source, "Embedded-SE")
    # a replication the request executor carries out, as a transformation or a user asks for it
    stored = iw.requests.submit([Request(name="copy", owner="alice", owner_group="demo_user", vo="demo",
                                         operations=[Operation(type="ReplicateAndRegister",
                                                               target_se=["Embedded-SE2"],
                                                               files=[RequestFile(lfn=LFN)])])])
    iw.request_executor.run_once()
    assert str(iw.requests.get([stored.ok[0]]).ok[stored.ok[0]].status) == "Done"
    iw.data_manager(alice).get_file(LFN, tmp_path / "back")
    with pytest.raises(DiracError):
        iw.data_manager(alice).replicate_and_register(LFN, "No-Such-SE", source_se="Embedded-SE")

    found = [(r["operation"], r["vo"], r["source_se"], r["target_se"], r["files"], r["bytes"], r["success"])
             for r in _records(iw, "data")]
    assert found == [("Upload", "demo", "local", "Embedded-SE", 1, 4096, True),
                     ("Replication", "demo", "Embedded-SE", "Embedded-SE2", 1, 4096, True),
                     ("Download", "demo", "Embedded-SE", "local", 1, 4096, True),
                     ("Replication", "demo", "Embedded-SE", "No-Such-SE", 1, 0, False)]
    assert all(r["seconds"] >= 0 for r in _records(iw, "data"))

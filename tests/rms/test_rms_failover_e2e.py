"""The failover path end to end: a pilot puts a job's output on the failover SE (its SE refuses
writes), the job ends Completed with a pending request; when the SE is back the executor moves
the file to it, removes it from the failover SE, and finalizes the job Done."""

from __future__ import annotations

from pathlib import Path

from rms_helpers import close_interware, make_interware

from dirac_core.config.resources import AccessStatus
from dirac_core.db import Database
from dirac_core.dms.storage_element import Access, StorageElements
from dirac_core.interware import Interware
from dirac_core.model import FakeClock
from dirac_core.model.identity import Identity
from dirac_core.model.job import JobStatus as J
from dirac_core.model.request import RequestStatus as R
from dirac_core.pilot.data import interware_transfers
from dirac_core.pilot.node import NodeInfo
from dirac_core.pilot.runtime import Pilot, PilotSettings
from dirac_core.pilot.services import EmbeddedServices
from dirac_core.pilot.watchdog import Limits
from dirac_core.pilot.wrapper import WrapperSettings
from dirac_core.plugins import hookimpl
from dirac_core.rms import Request
from dirac_core.rms.wiring import build_executor
from dirac_core.wms.pilots import PilotRecord

SITE = "DIRAC.Embedded.local"
OUTPUT_SE = """
[resources.storage_elements.SE-OUT]
name = "SE-OUT"
[[resources.storage_elements.SE-OUT.protocols]]
type = "file"
path = "{root}/se-out"

[operations.defaults]
failover_ses = ["SE-FAILOVER"]
"""


class Done:
    def __init__(self) -> None:
        self.requests: list[Request] = []

    @hookimpl
    def dirac_request_done(self, request: Request) -> None:
        self.requests.append(request)


def _pilot(iw: Interware, work: Path) -> Pilot:
    iw.pilots.register([PilotRecord(pilot_stamp="p-1", vo="demo", destination_site=SITE)])
    base = iw.identity("pilot", "demo_pilot")
    identity = Identity(user=base.user, group=base.group, vo=base.vo, properties=base.properties,
                        pilot_stamp="p-1")
    wrapper = WrapperSettings(work_dir=work, heartbeat_seconds=0.05, limits=Limits(min_disk_mb=0))
    node = NodeInfo(processors=2, memory_mb=4000, disk_free_mb=10_000, platform="Linux_x86_64_glibc-2.36",
                    hostname="node")
    return Pilot(EmbeddedServices(iw, identity), PilotSettings(site=SITE, stamp="p-1", wrapper=wrapper,
                                                               min_time_left=0),
                 node=node, clock=iw.clock, sleep=lambda _: None, data=interware_transfers(iw, "demo"))


def test_an_output_left_on_the_failover_se_reaches_its_se_and_the_job_ends_done(
        database: Database, fake_clock: FakeClock, tmp_path: Path) -> None:
    done = Done()
    iw = make_interware(database, fake_clock, tmp_path, plugins=[done], extra=OUTPUT_SE)
    refused = {("SE-OUT", Access.WRITE): AccessStatus.BANNED}
    iw.storage.close()
    iw.storage = StorageElements(iw.config, status=lambda se, access: refused.get((se, access),
                                                                                  AccessStatus.ACTIVE))
    executor = build_executor(iw)
    try:
        [job] = iw.wms.submit('[Executable = "/bin/sh"; Arguments = "-c \'echo result > out.dat\'";'
                              ' OutputData = {"out.dat"}; OutputSE = {"SE-OUT"};]', iw.identity("alice"))
        [outcome] = _pilot(iw, tmp_path / "work").run().outcomes
        assert (outcome.status, outcome.minor_status) == (J.COMPLETED, "Pending Requests")
        lfn = f"/demo/user/a/alice/{job.job_id}/out.dat"
        assert iw.catalog is not None and iw.catalog.get_replicas([lfn]).ok[lfn] == {"SE-FAILOVER"}
        [request_id] = iw.requests.for_jobs([job.job_id])[job.job_id]

        assert executor.run_once().finished == {request_id: R.WAITING}  # SE-OUT still refuses writes
        assert iw.requests.get([request_id]).ok[request_id].not_before is not None
        refused.clear()
        fake_clock.advance(3601)
        assert executor.run_once().finished == {request_id: R.DONE}

        assert iw.catalog.get_replicas([lfn]).ok[lfn] == {"SE-OUT"}
        assert iw.storage["SE-OUT"].exists(lfn) and not iw.storage["SE-FAILOVER"].exists(lfn)
        back = iw.data_manager(iw.identity("alice")).get_file(lfn, tmp_path / "back")
        assert back.read_text() == "result\n"
        row = iw.wms.get_jobs([job.job_id])[job.job_id]
        assert (row["status"], row["minor_status"]) == (J.DONE, "Requests done")
        assert [(r.request_id, r.status, r.job_id) for r in done.requests] == [
            (request_id, R.DONE, job.job_id)]
    finally:
        executor.close()
        close_interware(iw)

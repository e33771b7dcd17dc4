"""Input and output data of jobs through the data manager, with failover SEs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pilot_helpers import make_pilot

from dirac_core.dms.manager import DataManager
from dirac_core.dms.storage_element import StorageElements
from dirac_core.interware import EMBEDDED_CONFIG, Interware
from dirac_core.jdl.description import JobDescription
from dirac_core.pilot.data import ManagedTransfers, interware_transfers, output_lfn
from dirac_core.testing.memory import MemoryCatalog
from dirac_core.wms.matcher import MatchedJob

GRID_SES = """
[resources.storage_elements.SE-OUT]
name = "SE-OUT"
write_access = "Banned"
[[resources.storage_elements.SE-OUT.protocols]]
type = "memory"

[resources.storage_elements.SE-FAILOVER]
name = "SE-FAILOVER"
[[resources.storage_elements.SE-FAILOVER.protocols]]
type = "memory"
"""


@pytest.fixture
def iw(tmp_path: Path) -> Iterator[Interware]:
    site = tmp_path / "site"
    site.mkdir()
    (site / "dirac.toml").write_text(EMBEDDED_CONFIG.format(root=site.as_posix()) + GRID_SES)
    with Interware.embedded(site) as interware:
        yield interware


def _manager(iw: Interware, records: list[tuple[str, str, dict[str, Any]]]) -> DataManager:
    def failover(operation: str, lfn: str, **arguments: Any) -> str:
        records.append((operation, lfn, arguments))
        return f"req-{len(records)}"

    return DataManager(catalog=MemoryCatalog(), storage=StorageElements(iw.config), failover=failover)


def test_outputs_go_to_a_failover_se_with_a_request_to_move_them(iw: Interware, tmp_path: Path) -> None:
    records: list[tuple[str, str, dict[str, Any]]] = []
    dm = _manager(iw, records)
    [job] = iw.wms.submit('[Executable = "/bin/sh"; Arguments = "-c \'echo result > out.dat\'";'
                          ' OutputData = {"out.dat"}; OutputSE = {"SE-OUT"};]', iw.identity("alice"))
    pilot = make_pilot(iw, tmp_path / "work")
    pilot.data = ManagedTransfers(dm, failover_ses=["SE-FAILOVER"])
    [outcome] = pilot.run().outcomes
    # DIRAC's rule: a job that left work to a request is Completed until the request is over
    assert (outcome.status, outcome.minor_status) == ("Completed", "Pending Requests"), outcome
    row = iw.wms.get_jobs([job.job_id])[job.job_id]
    assert (row["status"], row["minor_status"]) == ("Completed", "Pending Requests")
    lfn = f"/demo/user/a/alice/{job.job_id}/out.dat"
    assert dm.catalog.get_replicas([lfn]).ok[lfn] == {"SE-FAILOVER"}
    assert records == [("ReplicateAndRegister", lfn,
                        {"source": "SE-FAILOVER", "target": "SE-OUT", "remove_source": True})]
    got = dm.get_file(lfn, tmp_path / "back")
    assert got.read_text() == "result\n"


def test_outputs_no_se_takes_fail_the_job_and_missing_ones_too(iw: Interware, tmp_path: Path) -> None:
    dm = _manager(iw, [])
    alice = iw.identity("alice")
    [job] = iw.wms.submit('[Executable = "/bin/sh"; Arguments = "-c \'echo x > out.dat\'";'
                          ' OutputData = {"out.dat", "never.dat"}; OutputSE = {"SE-OUT"};]', alice)
    pilot = make_pilot(iw, tmp_path / "work")
    pilot.data = ManagedTransfers(dm, failover_ses=["SE-FAILOVER"])
    [outcome] = pilot.run().outcomes
    assert (outcome.status, outcome.minor_status) == ("Failed", "Uploading Output Data")
    assert "never.dat" in iw.wms.get_jobs([job.job_id])[job.job_id]["application_status"]
    [job2] = iw.wms.submit('[Executable = "/bin/sh"; Arguments = "-c \'echo x > out.dat\'";'
                           ' OutputData = {"out.dat"}; OutputSE = {"SE-OUT"};]', iw.identity("alice"))
    pilot = make_pilot(iw, tmp_path / "work2", stamp="pilot-2")
    pilot.data = ManagedTransfers(dm)  # no failover SE: SE-OUT refuses writes
    [outcome] = pilot.run().outcomes
    assert outcome.status == "Failed"
    assert "SE-OUT is Banned for write" in iw.wms.get_jobs([job2.job_id])[job2.job_id]["application_status"]


def test_input_data_is_downloaded_from_the_catalog(iw: Interware, tmp_path: Path) -> None:
    dm = _manager(iw, [])
    source = tmp_path / "in.dat"
    source.write_text("input\n")
    dm.put_and_register("/demo/data/in.dat", source, "SE-FAILOVER")
    matched = MatchedJob(job_id=3, jdl="", owner="alice", owner_group="demo_user", vo="demo", task_queue=1)
    ManagedTransfers(dm).download(matched, ["/demo/data/in.dat"], tmp_path / "job")
    assert (tmp_path / "job" / "in.dat").read_text() == "input\n"


def test_output_lfns_follow_the_output_path_or_the_users_folder() -> None:
    matched = MatchedJob(job_id=12, jdl="", owner="alice", owner_group="demo_user", vo="demo", task_queue=1)
    assert output_lfn(matched, JobDescription(executable="x"), "a.root") == "/demo/user/a/alice/12/a.root"
    job = JobDescription(executable="x", output_path="LFN:/demo/prod/run1")
    assert output_lfn(matched, job, "a.root") == "/demo/prod/run1/a.root"
    parsed = JobDescription.from_jdl('[ Executable = "x"; OutputPath = "/ana/run1"; ]')
    assert output_lfn(matched, parsed, "a.root") == "/demo/user/a/alice/ana/run1/a.root"
    relative = JobDescription(executable="x", output_path="ana")
    assert output_lfn(matched, relative, "b") == "/demo/user/a/alice/ana/b"


def test_an_embedded_pilot_moves_outputs_as_the_owner_and_stores_the_failover_request(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "dirac.toml").write_text(EMBEDDED_CONFIG.format(root=site.as_posix()) + GRID_SES
                                     + '\n[operations.defaults]\nfailover_ses = ["SE-FAILOVER"]\n')
    with Interware.embedded(site) as iw:
        [job] = iw.wms.submit('[Executable = "/bin/sh"; Arguments = "-c \'echo r > out.dat\'";'
                              ' OutputData = {"out.dat"}; OutputSE = {"SE-OUT"};]', iw.identity("alice"))
        pilot = make_pilot(iw, tmp_path / "work")
        pilot.data = interware_transfers(iw, "demo")
        [outcome] = pilot.run().outcomes
        assert (outcome.status, outcome.minor_status) == ("Completed", "Pending Requests"), outcome
        lfn = f"/demo/user/a/alice/{job.job_id}/out.dat"
        assert iw.catalog is not None and iw.catalog.get_replicas([lfn]).ok[lfn] == {"SE-FAILOVER"}
        [request_id] = iw.requests.for_jobs([job.job_id])[job.job_id]
        request = iw.requests.get([request_id]).ok[request_id]
        assert (request.owner, request.owner_group, request.source) == ("alice", "demo_user", "JobWrapper")
        assert [(op.type, op.source_se, op.target_se, [f.lfn for f in op.files])
                for op in request.operations] == [
            ("ReplicateAndRegister", ("SE-FAILOVER",), ("SE-OUT",), [lfn]),
            ("RemoveReplica", (), ("SE-FAILOVER",), [lfn])]

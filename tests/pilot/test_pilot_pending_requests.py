"""A job whose outputs left work to failover requests ends Completed (DIRAC's rule), with the minor
status saying how the payload ended; without such requests it ends Done or Failed as before."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pilot_helpers import make_pilot

from dirac_core.dms.manager import DataManager
from dirac_core.dms.storage_element import StorageElements
from dirac_core.errors import BulkResult, CatalogError
from dirac_core.interware import Interware
from dirac_core.model import FakeClock
from dirac_core.pilot.data import ManagedTransfers
from dirac_core.pilot.watchdog import Limits
from dirac_core.pilot.wrapper import JobWrapper, UploadedData, WrapperSettings
from dirac_core.testing.memory import MemoryCatalog
from dirac_core.wms.matcher import MatchedJob


@pytest.fixture
def iw(tmp_path: Path) -> Iterator[Interware]:
    with Interware.embedded(tmp_path / "site") as interware:
        yield interware


def _manager(iw: Interware, records: list[str], *, register: bool) -> DataManager:
    def failover(operation: str, lfn: str, **arguments: Any) -> str:
        records.append(operation)
        return f"req-{len(records)}"

    dm = DataManager(catalog=MemoryCatalog(), storage=StorageElements(iw.config), failover=failover)
    if not register:
        def refuse(*args: object) -> None:
            raise CatalogError("catalog down")

        dm._register = refuse  # type: ignore[method-assign]
    return dm


@pytest.mark.parametrize(("command", "register", "expected"), [
    ("exit 0", False, ("Completed", "Pending Requests")),
    ("exit 3", False, ("Completed", "Application Finished With Errors")),
    ("exit 0", True, ("Done", "Execution Complete")),
    ("exit 3", True, ("Failed", "Application Finished With Errors")),
])
def test_the_final_status_says_whether_requests_are_pending(
        iw: Interware, tmp_path: Path, command: str, register: bool, expected: tuple[str, str]) -> None:
    records: list[str] = []
    [job] = iw.wms.submit(f'[Executable = "/bin/sh"; Arguments = "-c \'echo r > out.dat; {command}\'";'
                          ' OutputData = {"out.dat"}; OutputSE = {"Embedded-SE"};]', iw.identity("alice"))
    pilot = make_pilot(iw, tmp_path / "work")
    pilot.data = ManagedTransfers(_manager(iw, records, register=register))
    [outcome] = pilot.run().outcomes
    assert (outcome.status, outcome.minor_status) == expected
    row = iw.wms.get_jobs([job.job_id])[job.job_id]
    assert (row["status"], row["minor_status"]) == expected
    assert records == ([] if register else ["RegisterFile"])


class _Services:
    """Records statuses; ``final[job]`` is set when a job reports its final status."""

    def __init__(self) -> None:
        self.final = {1: threading.Event(), 2: threading.Event()}

    def set_status(self, updates: Any) -> BulkResult[int, Any]:
        for job_id, by_time in updates.items():
            if any(u.get("Status") in ("Done", "Completed", "Failed") for u in by_time.values()):
                self.final[job_id].set()
        return BulkResult()

    def heartbeat(self, metrics: Any) -> BulkResult[int, list[Any]]:
        return BulkResult(ok={job_id: [] for job_id in metrics})

    def set_parameters(self, job_id: int, parameters: Any) -> None:
        pass


class _Data:
    """Job 1's output leaves a request; job 2's upload ends only after job 1 has ended."""

    def __init__(self, services: _Services) -> None:
        self.services = services

    def download(self, matched: MatchedJob, lfns: Any, dest: Path) -> None:
        raise AssertionError("no input data here")

    def upload(self, matched: MatchedJob, job: Any, paths: Any) -> UploadedData:
        if matched.job_id == 1:
            return UploadedData(lfns=("/demo/1",), requests=("req-1",))
        assert self.services.final[1].wait(timeout=120), "job 1 never ended"
        return UploadedData(lfns=("/demo/2",))


def test_parallel_jobs_of_one_wrapper_keep_their_pending_requests_apart(tmp_path: Path) -> None:
    services = _Services()
    wrapper = JobWrapper(services, WrapperSettings(work_dir=tmp_path, heartbeat_seconds=0.05,  # type: ignore[arg-type]
                                                   limits=Limits(min_disk_mb=0)),
                         clock=FakeClock(), data=_Data(services))
    jdl = '[Executable = "/bin/sh"; Arguments = "-c \'echo x > out.dat\'"; OutputData = {"out.dat"};]'
    outcomes: dict[int, Any] = {}
    threads = [threading.Thread(target=lambda j=j: outcomes.update({j: wrapper.run(MatchedJob(
        job_id=j, jdl=jdl, owner="alice", owner_group="demo_user", vo="demo", task_queue=1))}))
        for j in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {j: (o.status, o.minor_status) for j, o in outcomes.items()} == {
        1: ("Completed", "Pending Requests"), 2: ("Done", "Execution Complete")}

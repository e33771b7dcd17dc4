"""Staging on every backend: jobs whose input is only on tape wait, recalls are throttled per SE,
jobs are released when their files are online and failed when a recall fails."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from wms_helpers import GRID, who

from dirac_core.config import Config, load_config
from dirac_core.db import Database
from dirac_core.dms.staging import Stager
from dirac_core.dms.storage_element import StorageElements
from dirac_core.model import FakeClock
from dirac_core.model.staging import StageStatus
from dirac_core.plugins.catalog import FileEntry
from dirac_core.plugins.manager import make_plugin_manager
from dirac_core.testing.memory import MemoryCatalog, MemoryStorage
from dirac_core.wms import WorkloadManager


def _config() -> Config:
    text = GRID
    for se in ("SE-A", "SE-B-disk", "SE-B-tape"):
        text += f'\n[[resources.storage_elements.{se}.protocols]]\ntype = "memory"\n'
    return load_config(text, format="toml")


class Grid:
    """A WMS with a catalog, the SEs of the test grid, files on tape at B, and a stager."""

    def __init__(self, database: Database, clock: FakeClock, tmp: Path, *, max_in_flight: int = 2) -> None:
        config = _config()
        self.catalog = MemoryCatalog()
        self.wms = WorkloadManager(database=database, config=config, clock=clock,
                                   hooks=make_plugin_manager(()), catalog=self.catalog)
        self.storage = StorageElements(config)
        self.stager = Stager(database=database, wms=self.wms, catalog=self.catalog, storage=self.storage,
                             clock=clock, max_in_flight=max_in_flight, timeout=timedelta(hours=1))
        self.tape: MemoryStorage = self.storage["SE-B-tape"]._protocols[0][1]  # type: ignore[assignment]
        source = tmp / "f"
        source.write_bytes(b"event data")
        for i in range(4):
            lfn = f"/demo/raw/{i}"
            self.storage["SE-B-tape"].put(source, lfn)
            self.tape.offline.add(lfn)
            self.catalog.add_files([FileEntry(lfn=lfn, size=10)])
            self.catalog.add_replicas({lfn: ["SE-B-tape"]})

    def job(self, *lfns: str) -> int:
        data = ", ".join(f'"LFN:{lfn}"' for lfn in lfns)
        [job] = self.wms.submit(f'[Executable = "/bin/true"; InputData = {{{data}}};]', who())
        assert job.status == "Staging"
        return job.job_id

    def status(self, job_id: int) -> str:
        return str(self.wms.get_jobs([job_id])[job_id]["status"])


@pytest.fixture
def grid(database: Database, fake_clock: FakeClock, tmp_path: Path) -> Grid:
    return Grid(database, fake_clock, tmp_path)


def test_jobs_wait_until_their_files_are_recalled_within_the_se_limit(grid: Grid) -> None:
    one = grid.job("/demo/raw/0", "/demo/raw/1")
    two = grid.job("/demo/raw/1", "/demo/raw/2", "/demo/raw/3")
    report = grid.stager.run_once()
    assert report.followed == 2 and report.submitted == 2  # at most 2 recalls in flight at SE-B-tape
    assert sorted(grid.tape.prepared) == ["/demo/raw/0", "/demo/raw/1"]
    statuses = grid.stager.statuses([f"/demo/raw/{i}" for i in range(4)])
    assert sorted(statuses.values()) == ["Offline", "Offline", "StageSubmitted", "StageSubmitted"]
    assert grid.status(one) == grid.status(two) == "Staging"
    grid.tape.bring_online()
    report = grid.stager.run_once()
    assert report.staged == 2 and report.submitted == 2 and report.released == [one]
    assert grid.status(one) == "Waiting" and grid.status(two) == "Staging"
    grid.tape.bring_online()
    report = grid.stager.run_once()
    assert report.released == [two] and grid.status(two) == "Waiting"
    row = grid.wms.get_jobs([two])[two]
    assert row["minor_status"] == "Staging complete" and row["site"] == "DIRAC.B.fr"


def test_a_recall_that_never_ends_fails_its_jobs(grid: Grid, fake_clock: FakeClock) -> None:
    job = grid.job("/demo/raw/0")
    grid.stager.run_once()
    fake_clock.advance(timedelta(hours=2))
    report = grid.stager.run_once()
    assert report.failed_jobs == [job]
    row = grid.wms.get_jobs([job])[job]
    assert row["status"] == "Failed" and "not online after 1:00:00" in row["minor_status"]
    assert grid.stager.statuses(["/demo/raw/0"])[("/demo/raw/0", "SE-B-tape")] is StageStatus.FAILED


def test_a_file_already_online_releases_the_job_at_once(grid: Grid) -> None:
    grid.tape.offline.discard("/demo/raw/3")
    job = grid.job("/demo/raw/3")
    report = grid.stager.run_once()
    assert report.released == [job] and grid.tape.prepared == []
    assert grid.status(job) == "Waiting"

"""The site director over memory CEs, on every backend."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest
from wms_helpers import GRID, who

from dirac_core.config import Config, load_config
from dirac_core.db import Database
from dirac_core.errors import BulkResult, CEUnreachable, NotFound
from dirac_core.model import FakeClock
from dirac_core.model.pilot import PilotStatus
from dirac_core.testing.memory import MemoryComputingElement
from dirac_core.wms import WorkloadManager
from dirac_core.wms.director import QueueTarget, SiteDirector
from dirac_core.wms.pilots import PilotRegistry


def _ce(site: str, name: str, *, max_total: int = 5, max_waiting: int = 3) -> str:
    return (f'\n[[resources.sites.DIRAC."{site}".ces]]\ntype = "local"\nname = "{name}"\n'
            f'[resources.sites.DIRAC."{site}".ces.queues.q1]\nname = "q1"\n'
            f"max_total_jobs = {max_total}\nmax_waiting_jobs = {max_waiting}\n")


def _config() -> Config:
    text = GRID
    for site, ce in (("DIRAC.A.ch", "ce-a"), ("DIRAC.B.fr", "ce-b"), ("DIRAC.C.it", "ce-c")):
        head = f'[resources.sites.DIRAC."{site}"]\nname = "{site}"\n'
        block = head + ("ses = [\"SE-A\"]\n" if site == "DIRAC.A.ch" else
                        "ses = [\"SE-B-disk\", \"SE-B-tape\"]\n" if site == "DIRAC.B.fr" else "")
        assert block in text
        text = text.replace(block, block + _ce(site, ce))
    return load_config(text, format="toml")


class Unreachable(MemoryComputingElement):
    """A CE whose host does not answer."""

    def submit(self, executable: str, stamps: Sequence[str]) -> BulkResult[str, str]:
        raise CEUnreachable(f"{self.name}: connection refused", host=self.name)


@pytest.fixture
def director_parts(database: Database, fake_clock: FakeClock, wms: WorkloadManager
                   ) -> tuple[SiteDirector, dict[str, MemoryComputingElement], PilotRegistry]:
    config = _config()
    wms.config = config  # type: ignore[misc]
    wms.matcher._config = config  # the grid with CEs for the matcher's site mask and groups
    ces: dict[str, MemoryComputingElement] = {}

    def make_ce(target: QueueTarget) -> MemoryComputingElement:
        ce = ces[target.ce.name] = MemoryComputingElement(target.ce.name)
        return ce

    pilots = PilotRegistry(database=database, clock=fake_clock)
    director = SiteDirector(config=config, wms=wms, pilots=pilots, vo="demo", clock=fake_clock,
                            make_ce=make_ce, script=lambda t, stamp: f"#!/bin/sh\n# {t.key} {stamp}\n")
    return director, ces, pilots


def test_pilots_go_where_the_work_is_within_the_queue_limits(
        director_parts: tuple[SiteDirector, dict[str, MemoryComputingElement], PilotRegistry],
        wms: WorkloadManager) -> None:
    director, ces, pilots = director_parts
    wms.submit(['[Executable = "/bin/true"; Site = "DIRAC.A.ch";]'] * 10, who())
    report = director.run_once()
    assert report.submitted == {"DIRAC.A.ch/ce-a/q1": 3}  # max_waiting_jobs = 3
    assert report.skipped["DIRAC.C.it/ce-c/q1"] == "site not in the mask"
    assert "DIRAC.B.fr/ce-b/q1" not in report.submitted  # no work may go to B
    script = next(iter(ces["ce-a"].scripts.values()))
    assert script.startswith("#!/bin/sh\n# DIRAC.A.ch/ce-a/q1 ")
    # three pilots wait already: nothing more until they run
    assert director.run_once().submitted == {}
    for ref in list(ces["ce-a"].pilots)[:3]:
        ces["ce-a"].set_status(ref, PilotStatus.RUNNING)
    report = director.run_once()
    assert report.updated == 3
    assert report.submitted == {"DIRAC.A.ch/ce-a/q1": 2}  # max_total_jobs = 5 with 3 running
    rows = pilots.search(vo="demo", equal={"Status": ["Running"]})[0]
    assert len(rows) == 3 and {r["DestinationSite"] for r in rows} == {"ce-a"}


def test_ended_pilots_have_their_output_kept(
        director_parts: tuple[SiteDirector, dict[str, MemoryComputingElement], PilotRegistry],
        wms: WorkloadManager) -> None:
    director, ces, pilots = director_parts
    wms.submit(['[Executable = "/bin/true"; Site = "DIRAC.A.ch";]'], who())
    director.run_once()
    [ref] = ces["ce-a"].pilots
    [row] = pilots.active("demo")
    ces["ce-a"].set_status(ref, PilotStatus.DONE)
    report = director.run_once()
    assert report.outputs == 1
    out, err = pilots.output(row["PilotStamp"])
    assert out == f"pilot {ref} is Done\n" and err == ""
    # the job still waits (the pilot ran nothing): the ended pilot is replaced by a new one
    assert [r["PilotStamp"] for r in pilots.active("demo")] != [row["PilotStamp"]]
    assert len(pilots.active("demo")) == 1


def test_a_pilot_the_ce_forgot_becomes_unknown(
        director_parts: tuple[SiteDirector, dict[str, MemoryComputingElement], PilotRegistry],
        wms: WorkloadManager) -> None:
    director, ces, pilots = director_parts
    wms.submit(['[Executable = "/bin/true"; Site = "DIRAC.A.ch";]'], who())
    director.run_once()
    [row] = pilots.active("demo")
    ces["ce-a"].pilots.clear()
    director.run_once()
    assert pilots.get([row["PilotStamp"]])[row["PilotStamp"]]["Status"] == PilotStatus.UNKNOWN


def test_an_unreachable_ce_backs_off_and_the_others_go_on(
        director_parts: tuple[SiteDirector, dict[str, MemoryComputingElement], PilotRegistry],
        wms: WorkloadManager, fake_clock: FakeClock) -> None:
    director, ces, _ = director_parts
    normal = director.make_ce

    def make_ce(target: QueueTarget) -> MemoryComputingElement:
        if target.ce.name == "ce-a":
            ce = ces["ce-a"] = Unreachable("ce-a")
            return ce
        return normal(target)  # type: ignore[return-value]

    director.make_ce = make_ce  # type: ignore[method-assign]
    wms.submit(['[Executable = "/bin/true"; Site = "DIRAC.A.ch";]'] * 2, who())
    wms.submit(['[Executable = "/bin/true"; Site = "DIRAC.B.fr";]'], who())
    report = director.run_once()
    assert "connection refused" in report.errors["DIRAC.A.ch/ce-a/q1"]
    assert report.submitted == {"DIRAC.B.fr/ce-b/q1": 1}
    report = director.run_once()
    assert report.skipped["DIRAC.A.ch/ce-a/q1"].startswith("backing off until")
    fake_clock.advance(timedelta(seconds=61))
    report = director.run_once()
    assert "DIRAC.A.ch/ce-a/q1" in report.errors  # tried again, failed again: now two minutes
    fake_clock.advance(timedelta(seconds=61))
    assert director.run_once().skipped["DIRAC.A.ch/ce-a/q1"].startswith("backing off until")


def test_a_pilot_that_said_done_itself_gets_its_output_once_its_ce_agrees(
        director_parts: tuple[SiteDirector, dict[str, MemoryComputingElement], PilotRegistry],
        wms: WorkloadManager) -> None:
    director, ces, pilots = director_parts
    wms.submit(['[Executable = "/bin/true"; Site = "DIRAC.A.ch";]'], who())
    director.run_once()
    [ref] = ces["ce-a"].pilots
    [row] = pilots.active("demo")
    stamp = row["PilotStamp"]
    ces["ce-a"].set_status(ref, PilotStatus.RUNNING)
    pilots.set_status({stamp: (PilotStatus.DONE, "pilot finished")})  # the pilot's own report
    director.run_once()
    with pytest.raises(NotFound):  # still running at the CE: its output is not complete
        pilots.output(stamp)
    ces["ce-a"].set_status(ref, PilotStatus.DONE)
    assert director.run_once().outputs == 1
    assert pilots.output(stamp)[0] == f"pilot {ref} is Done\n"
    assert director.run_once().outputs == 0  # kept once

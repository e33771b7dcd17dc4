"""Pilot efficiencies ban CEs, sites follow their CEs; the site director and the matcher obey."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from rss_helpers import close_interware, make_interware, make_system, policy

from dirac_core.db import Database
from dirac_core.interware import Interware
from dirac_core.model import FakeClock
from dirac_core.model.resource_status import ElementKey, ResourceStatus
from dirac_core.testing.memory import MemoryComputingElement
from dirac_core.wms.director import QueueTarget, SiteDirector
from dirac_core.wms.matching import SiteGate
from dirac_core.wms.pilots import PilotRecord, PilotRegistry
from dirac_core.wms.resource import ResourceDescription

R = ResourceStatus
PILOTS = policy("PilotEfficiency", "ComputingElement", "Queue", parameters={"minimum": 10})


def _pilots(registry: PilotRegistry, ce: str, **ended: int) -> None:
    """Pilots of ``ce`` (queue q1) that ended: ``Done=8, Failed=2``."""
    site = "DIRAC.B.fr" if ce == "ce-b" else "DIRAC.A.ch"
    records = [PilotRecord(pilot_stamp=f"{ce}-{status}-{i}", vo="demo", grid_type="memory", grid_site=site,
                           destination_site=ce, queue="q1")
               for status, count in ended.items() for i in range(count)]
    registry.register(records).raise_for_failures()
    registry.set_status({r.pilot_stamp: (r.pilot_stamp.split("-")[-2], "test") for r in records}
                        ).raise_for_failures()


@pytest.mark.parametrize(("ended", "status", "reason"), [
    ({"Done": 10}, R.ACTIVE, "pilot efficiency 100% (10 of 10)"),
    ({"Done": 8, "Failed": 2}, R.DEGRADED, "pilot efficiency 80% (8 of 10)"),
    ({"Done": 3, "Failed": 4, "Aborted": 3}, R.BANNED, "pilot efficiency 30% (3 of 10)"),
    ({"Done": 5, "Failed": 4}, R.UNKNOWN, "only 9 pilot ended (fewer than 10)"),
])
def test_pilot_failures_degrade_and_ban_a_ce(database: Database, fake_clock: FakeClock, tmp_path: Path,
                                            ended: dict[str, int], *, status: R, reason: str) -> None:
    registry = PilotRegistry(database=database, clock=fake_clock)
    _pilots(registry, "ce-b", **ended, Running=3)  # running pilots do not count
    system = make_system(database, fake_clock, tmp_path, PILOTS, pilots=registry)
    report = system.evaluate()
    assert report.result(ElementKey(element_type="ComputingElement", name="ce-b")).reason == (
        f"PilotEfficiency: {reason}")
    assert system.status_of("ce-b") is status
    assert system.status_of("ce-b/q1") is status  # the queue, from the same pilots
    assert system.status_of("ce-a1") is R.UNKNOWN
    fake_clock.advance(timedelta(hours=7))  # out of the 6-hour window: no data
    system.evaluate(force=True)
    assert system.status_of("ce-b") is (R.PROBING if status is R.BANNED else R.UNKNOWN)


def test_a_site_follows_its_ces(database: Database, fake_clock: FakeClock, tmp_path: Path) -> None:
    registry = PilotRegistry(database=database, clock=fake_clock)
    _pilots(registry, "ce-a1", Done=2, Failed=8)
    _pilots(registry, "ce-a2", Done=10)
    system = make_system(database, fake_clock, tmp_path, PILOTS + policy("Propagation", "Site"),
                         pilots=registry)
    system.evaluate()
    assert (system.status_of("ce-a1"), system.status_of("ce-a2")) == (R.BANNED, R.ACTIVE)
    assert system.status_of("DIRAC.A.ch") is R.ACTIVE
    assert system.statuses(name="DIRAC.A.ch")[0].reason == "Propagation: 1 of 2 resources Active"
    assert system.status_of("DIRAC.B.fr") is R.UNKNOWN  # ce-b has no data
    _pilots(registry, "ce-a2", Aborted=30)
    system.evaluate(force=True)
    assert system.status_of("DIRAC.A.ch") is R.BANNED
    assert system.statuses(name="DIRAC.A.ch")[0].reason == "Propagation: none of 2 resources usable"


def _director(iw: Interware) -> tuple[SiteDirector, dict[str, MemoryComputingElement]]:
    ces: dict[str, MemoryComputingElement] = {}

    def make_ce(target: QueueTarget) -> MemoryComputingElement:
        ce = ces[target.ce.name] = MemoryComputingElement(target.ce.name)
        return ce

    return SiteDirector(config=iw.config, wms=iw.wms, pilots=iw.pilots, vo="demo", clock=iw.clock,
                        make_ce=make_ce, script=lambda t, s: "#!/bin/sh\n", gate=iw.status.gate), ces


def test_the_site_director_sends_no_pilots_to_banned_or_probing_resources(
        database: Database, fake_clock: FakeClock, tmp_path: Path) -> None:
    iw = make_interware(database, fake_clock, tmp_path, PILOTS)
    try:
        director, _ = _director(iw)
        alice = iw.identity("alice")
        iw.wms.submit(['[Executable = "a"; Site = "DIRAC.A.ch"]'] * 4
                      + ['[Executable = "b"; Site = "DIRAC.B.fr"]'], alice)
        iw.status.set_status("ce-a1", "Banned", reason="pilots fail", owner="admin")
        iw.status.set_status("ce-a2/q1", "Probing", reason="new queue", owner="admin")
        report = director.run_once()
        assert report.skipped == {"DIRAC.A.ch/ce-a1/q1": "resource status: closed",
                                  "DIRAC.A.ch/ce-a2/q1": "resource status: test-only"}
        assert report.submitted == {"DIRAC.B.fr/ce-b/q1": 1}
        iw.status.set_status("DIRAC.B.fr", "Banned", reason="site down", owner="admin")
        [queue] = iw.status.release("ce-a2/q1")
        assert iw.status.status_of("ce-a2/q1") is R.PROBING  # until the policies decide
        assert iw.status.evaluate().result(queue).after is R.UNKNOWN  # no pilot data: no objection
        report = director.run_once()
        assert report.skipped["DIRAC.B.fr/ce-b/q1"] == "resource status: closed"
        assert report.submitted == {"DIRAC.A.ch/ce-a2/q1": 4}
    finally:
        close_interware(iw)


def test_the_matcher_gives_a_banned_site_nothing_and_a_probing_one_test_jobs(
        database: Database, fake_clock: FakeClock, tmp_path: Path) -> None:
    iw = make_interware(database, fake_clock, tmp_path, PILOTS)
    try:
        alice, pilot = iw.identity("alice"), iw.identity("pilot")
        jobs = iw.wms.submit(['[Executable = "a"]', '[Executable = "t"; JobType = "Test"]'], alice)
        user, test = (j.job_id for j in jobs)
        at_a = {"Site": "DIRAC.A.ch", "CPUTime": 100000, "GridCE": "ce-a1", "Queue": "q1"}
        assert iw.status.gate("DIRAC.A.ch", "ce-a1", "q1", "demo") is SiteGate.OPEN
        iw.status.set_status("DIRAC.A.ch", "Banned", reason="down", owner="admin")
        assert iw.status.gate("DIRAC.A.ch", "ce-a1", "q1", "demo") is SiteGate.CLOSED
        assert iw.wms.match(at_a, pilot) is None
        assert iw.wms.waiting_for([_resource(at_a)], pilot) == [0]
        iw.status.set_status("DIRAC.A.ch", "Active", reason="back", owner="admin")
        iw.status.set_status("ce-a1", "Probing", reason="testing", owner="admin")
        matched = iw.wms.match(at_a, pilot)
        assert matched is not None and matched.job_id == test  # Probing: Test jobs only, as outside the mask
        assert iw.wms.match(at_a, pilot) is None
        at_a2 = {**at_a, "GridCE": "ce-a2"}
        matched = iw.wms.match(at_a2, pilot)
        assert matched is not None and matched.job_id == user
    finally:
        close_interware(iw)


def _resource(mapping: dict[str, object]) -> ResourceDescription:
    return ResourceDescription.from_mapping(mapping)


def test_a_vo_row_overrides_the_row_for_every_vo(database: Database, fake_clock: FakeClock,
        tmp_path: Path) -> None:
    system = make_system(database, fake_clock, tmp_path, PILOTS)
    system.set_status("ce-b", "Banned", reason="demo's pilots fail there", owner="admin", vo="demo")
    assert system.gate("DIRAC.B.fr", "ce-b", "q1", "demo") is SiteGate.CLOSED
    assert system.gate("DIRAC.B.fr", "ce-b", "q1", "other") is SiteGate.OPEN
    assert system.status_of("ce-b", vo="demo") is R.BANNED and system.status_of("ce-b") is None


def test_job_failures_ban_a_site(database: Database, fake_clock: FakeClock, tmp_path: Path) -> None:
    iw = make_interware(database, fake_clock, tmp_path, policy("JobEfficiency", "Site"))
    try:
        pilot = iw.identity("pilot")
        jobs = iw.wms.submit(['[Executable = "a"; Site = "DIRAC.A.ch"]'] * 12, iw.identity("alice"))
        for _ in jobs:
            assert iw.wms.match({"Site": "DIRAC.A.ch", "CPUTime": 100000}, pilot) is not None
        ends = ["Done"] * 3 + ["Completed"] * 2 + ["Failed"] * 6 + ["Running"]
        now = fake_clock.now()
        iw.wms.set_status({j.job_id: {now: {"Status": end}} for j, end in zip(jobs, ends, strict=True)},
                          force=True)
        report = iw.status.evaluate()
        site_a = ElementKey(element_type="Site", name="DIRAC.A.ch")
        assert report.result(site_a).reason == "JobEfficiency: job efficiency 45% (5 of 11)"
        assert iw.status.status_of("DIRAC.A.ch") is R.BANNED
        assert iw.status.status_of("DIRAC.B.fr") is R.UNKNOWN  # no jobs there
    finally:
        close_interware(iw)

"""The local CE: conformance, and the whole chain with real processes.

Site director -> local CE (fork batch system, local transport) -> pilot processes running
``dirac-core pilot --local`` -> jobs Done, pilot outputs kept.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dirac_core.interware import Interware
from dirac_core.model.clock import SystemClock
from dirac_core.model.pilot import PilotStatus
from dirac_core.plugins.computing import ComputingElement
from dirac_core.testing.conformance.computing import PILOT_SCRIPT, ComputingElementSuite
from dirac_core.wms.director import SiteDirector
from dirac_core.wms.director_parts import ce_factory, pilot_script
from dirac_plugins_ce.local import LocalComputingElement


class TestLocalConformance(ComputingElementSuite):
    capabilities = frozenset({"output"})

    @pytest.fixture
    def driver(self, tmp_path: Path) -> Iterator[ComputingElement]:
        with LocalComputingElement(work_dir=str(tmp_path / "ce"), max_slots=4) as ce:
            yield ce


def _wait(condition, what: str, seconds: float = 120) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)  # waiting for other processes, not timing anything


def test_slots_are_a_cap_and_freed_when_pilots_end(tmp_path: Path) -> None:
    ce = LocalComputingElement(work_dir=str(tmp_path / "ce"), max_slots=2)
    result = ce.submit("#!/bin/sh\nsleep 30\n", ["a", "b", "c"])
    assert sorted(result.ok) == ["a", "b"] and "all 2 slots are busy" in str(result.failed["c"])
    assert ce.ce_status().available_processors == 0
    assert ce.kill(list(result.ok.values())).all_ok
    _wait(lambda: all(s.is_final for s in ce.status(list(result.ok.values())).ok.values()), "kill")
    again = ce.submit(PILOT_SCRIPT, ["d"])
    assert again.all_ok


def test_the_director_runs_real_pilots_that_run_the_jobs(tmp_path: Path) -> None:
    site = tmp_path / "site"
    with Interware.embedded(site, clock=SystemClock()) as iw:
        ids = [j.job_id for j in iw.wms.submit(
            ['[Executable = "/bin/sh"; Arguments = "-c \'echo job $DIRACJOBID\'";]'] * 4,
            iw.identity("alice"))]

        def script(target, stamp):  # type: ignore[no-untyped-def]
            return pilot_script(target, stamp, local=str(site), extra=["--heartbeat", "0.2"])

        director = SiteDirector(config=iw.config, wms=iw.wms, pilots=iw.pilots, vo="demo",
                                clock=iw.clock, make_ce=ce_factory(tmp_path / "ce-work"), script=script)
        report = director.run_once()
        assert report.submitted == {"DIRAC.Embedded.local/localhost/default": 2}  # max_waiting_jobs

        def all_done() -> bool:
            director.run_once()
            return {r["status"] for r in iw.wms.get_jobs(ids).values()} == {"Done"}

        _wait(all_done, "the jobs to be Done")
        stamp = iw.pilots.pilot_of(ids[0])
        assert stamp is not None

        def output_kept() -> bool:
            director.run_once()  # the pilot said Done itself; its output is fetched once it ended
            # a pilot the director sent while the last jobs ran may still be ending: wait for it too
            return not iw.pilots.without_output("demo", datetime(2000, 1, 1, tzinfo=UTC)) \
                and not iw.pilots.active("demo")

        _wait(output_kept, "the pilots' outputs")
        assert not iw.pilots.active("demo")
        director.close()
        assert iw.pilots.get([stamp])[stamp]["Status"] == PilotStatus.DONE
        out, _ = iw.pilots.output(stamp)
        assert f"pilot {stamp}: " in out and "stopped: no more work" in out
        assert iw.wms.get_parameters(ids[0])["StandardOutput"] == f"job {ids[0]}"
        assert datetime.now(UTC) > iw.wms.get_jobs([ids[0]])[ids[0]]["end_exec_time"].replace(tzinfo=UTC)

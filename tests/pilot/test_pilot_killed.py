"""A pilot killed in the middle of a job: the job goes Stalled, then Failed or rescheduled; never lost."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest

from dirac_core.interware import Interware
from dirac_core.model import FakeClock
from dirac_core.wms.housekeeping import detect_stalled


def _run_and_kill_a_pilot(site: Path, work: Path) -> int:
    """Submit a long job, start a real pilot process on it, kill the pilot's whole process group
    (as a batch system does) once the payload runs; the job id."""
    with Interware.embedded(site) as iw:
        [job] = iw.wms.submit('[Executable = "/bin/sleep"; Arguments = "600";]', iw.identity("alice"))
    pilot = subprocess.Popen([sys.executable, "-m", "dirac_core.cli", "pilot", "--local", str(site),
                              "--work-dir", str(work), "--heartbeat", "0.2"],
                             start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        with Interware.embedded(site) as iw:
            while iw.wms.get_jobs([job.job_id])[job.job_id]["minor_status"] != "Application":
                assert pilot.poll() is None, pilot.stderr.read() if pilot.stderr else ""
                assert time.monotonic() < deadline, "the pilot never started the payload"
                time.sleep(0.1)  # waiting for another process, not timing anything
    finally:
        os.killpg(pilot.pid, signal.SIGKILL)
        pilot.wait()
    return job.job_id


@pytest.mark.parametrize("reschedule", [False, True], ids=["fail", "reschedule"])
def test_a_killed_pilots_job_is_stalled_then_failed_or_rescheduled(tmp_path: Path, reschedule: bool) -> None:
    site = tmp_path / "site"
    job = _run_and_kill_a_pilot(site, tmp_path / "work")
    clock = FakeClock(datetime.now(UTC))
    with Interware.embedded(site, clock=clock) as iw:
        policy = iw.config.operations.defaults
        if reschedule:
            ops = attrs.evolve(iw.config.operations,
                               defaults=attrs.evolve(policy, reschedule_stalled=True))
            iw.wms.config = attrs.evolve(iw.config, operations=ops)  # type: ignore[misc]
        assert iw.wms.get_jobs([job])[job]["status"] == "Running"
        clock.advance(timedelta(seconds=policy.stalled_time + 1))
        detect_stalled(iw.wms)
        assert iw.wms.get_jobs([job])[job]["status"] == "Stalled"
        clock.advance(timedelta(seconds=policy.failed_time + 1))
        detect_stalled(iw.wms)
        row = iw.wms.get_jobs([job])[job]
        statuses = [h["status"] for h in iw.wms.history(job)]
        assert "Failed" in statuses
        if reschedule:
            assert "Rescheduled" in statuses and not row["status"].is_final  # back in the pipeline
            assert row["reschedule_counter"] == 1
        else:
            assert (row["status"], row["minor_status"]) == (
                "Failed", f"Stalling for more than {policy.failed_time} sec")

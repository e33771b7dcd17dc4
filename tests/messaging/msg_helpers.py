"""Helpers of the messaging tests: an interware whose [messaging] section the test writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dirac_core.config import load_config
from dirac_core.db import Database
from dirac_core.interware import EMBEDDED_CONFIG, Interware
from dirac_core.model import SystemClock
from dirac_core.pilot.local import run_local_pilot
from dirac_core.plugins.manager import make_plugin_manager
from dirac_core.rms import Operation, Request
from dirac_core.rms.request import RequestFile

SITE = "DIRAC.Embedded.local"
JOB = '[ Executable = "/bin/sh"; Arguments = "-c \'echo hello\'"; ]'


def make_interware(database: Database, root: Path, messaging: str) -> Interware:
    """An embedded-like interware on ``database`` (the fixture's backend) with ``messaging`` (TOML)."""
    root.mkdir(parents=True, exist_ok=True)
    text = EMBEDDED_CONFIG.format(root=root.as_posix()) + "\n" + messaging
    return Interware(config=load_config(text, format="toml"), database=database, clock=SystemClock(),
                     hooks=make_plugin_manager((), entry_points=False))


def run_job(iw: Interware, work: Path) -> int:
    """Submit one job as alice and run it to Done with a local pilot; its id."""
    [job] = iw.wms.submit(JOB, iw.identity("alice"))
    report = run_local_pilot(iw, site=SITE, work_dir=work, stamp=f"pilot-of-{job.job_id}-{work.name}")
    assert [(o.job_id, o.status) for o in report.outcomes] == [(job.job_id, "Done")]
    return job.job_id


def job_statuses(messages: list[dict[str, Any]], job_id: int) -> list[tuple[str, str]]:
    """(old status, status) of ``job_id`` in the job.status messages, in order."""
    return [(m["old_status"][str(job_id)], m["status"]) for m in messages
            if m["type"] == "job.status" and job_id in m["job_ids"]]


#: a job's way through a local pilot
JOB_PATH = [("Received", "Waiting"), ("Waiting", "Matched"), ("Matched", "Running"),
            ("Running", "Completing"), ("Completing", "Done")]


def replicate_request(iw: Interware, lfn: str, target: str) -> int:
    """Store a request of alice replicating ``lfn`` to ``target``; its id."""
    operation = Operation(type="ReplicateAndRegister", files=[RequestFile(lfn=lfn)], target_se=(target,))
    result = iw.requests.submit([Request(name="replicate", owner="alice", owner_group="demo_user", vo="demo",
                                         operations=[operation])])
    assert not result.failed, result.failed
    return int(result.ok[0])

"""The pilots step of the demo: real pilot processes on this machine run real jobs.

The site director sends pilots to the embedded site's local CE (background
processes); each pilot runs ``dirac-core pilot`` against the demo's server
(with its own pilot token), or against the embedded directory when there is no
server, pulls jobs, runs their payloads under the job wrapper and reports.
"""

from __future__ import annotations

import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from dirac_core.errors import DiracError
from dirac_core.interware import Interware
from dirac_core.jdl import Job
from dirac_core.wms.director import QueueTarget, SiteDirector
from dirac_core.wms.director_parts import ce_factory, pilot_script

__all__ = ["job_outputs_to_storage", "real_pilots"]

_JOBS = 6
_DEADLINE = 180.0  # seconds; the pilots start in about a second each here


def real_pilots(console: Console, iw: Interware, path: Path, url: str | None) -> list[int]:
    """Submit a few real jobs, let the site director's pilots run them, show what they printed."""
    jobs = iw.wms.submit([Job("/bin/sh", f"-c 'echo hello from job $DIRACJOBID, step {i}'")
                          .name(f"hello_{i}").output_sandbox(["std.out"]) for i in range(_JOBS)],
                         iw.identity("alice"))
    ids = [j.job_id for j in jobs]

    def script(target: QueueTarget, stamp: str) -> str:
        if url is None:
            return pilot_script(target, stamp, local=str(path), extra=["--heartbeat", "1"])
        token = iw.auth.tokens.issue_pilot("demo", stamp)
        return pilot_script(target, stamp, server=url, token=token, extra=["--heartbeat", "1"])

    director = SiteDirector(config=iw.config, wms=iw.wms, pilots=iw.pilots, vo="demo", clock=iw.clock,
                            make_ce=ce_factory(path / "ce-work"), script=script, gate=iw.status.gate)
    submitted = 0
    started = iw.clock.now()
    deadline = time.monotonic() + _DEADLINE
    try:
        with Progress(console=console, transient=True) as progress:
            bar = progress.add_task("pilots on this machine running jobs", total=_JOBS)
            while True:
                submitted += sum(director.run_once().submitted.values())
                done = sum(r["status"].is_final for r in iw.wms.get_jobs(ids).values())
                progress.update(bar, completed=done)
                ended = not iw.pilots.active("demo") and not iw.pilots.without_output("demo", started)
                if (done == _JOBS and ended) or time.monotonic() > deadline:
                    break
                time.sleep(0.2)  # the pilots are other processes: look again shortly
    finally:
        director.close()
    rows = iw.wms.get_jobs(ids)
    table = Table("job", "status", "its stdout (a job parameter)", "pilot",
                  title=f"{_JOBS} jobs run by {submitted} pilot process(es) from the site director")
    for job_id in ids:
        params = iw.wms.get_parameters(job_id)
        table.add_row(str(job_id), str(rows[job_id]["status"]), params.get("StandardOutput", ""),
                      (iw.pilots.pilot_of(job_id) or "")[:8])
    console.print(table)
    stamp = iw.pilots.pilot_of(ids[0])
    if stamp is not None:
        try:
            out, _ = iw.pilots.output(stamp)
        except DiracError:  # the deadline passed first
            out = "(not retrieved yet)"
        last = out.strip().splitlines()[-1] if out.strip() else "(empty)"
        console.print(f"  pilot log of job {ids[0]} (kept by the director): {last}", highlight=False)
    return ids


def job_outputs_to_storage(console: Console, iw: Interware, path: Path, job_ids: list[int]) -> None:
    """Write what some jobs printed as files on one SE, replicate them to a second, show both."""
    if iw.dm is None or iw.catalog is None:
        console.print("data: no file catalog configured, skipped")
        return
    folder = path / "outputs"
    folder.mkdir(exist_ok=True)
    lfns = []
    for job_id in job_ids:
        local = folder / f"job-{job_id}.out"
        local.write_text(iw.wms.get_parameters(job_id).get("StandardOutput", "") + "\n")
        stored = iw.dm.put_and_register(f"/demo/user/a/alice/outputs/job-{job_id}.out", local, "Embedded-SE")
        iw.dm.replicate_and_register(stored.lfn, "Embedded-SE2")
        lfns.append(stored.lfn)
    replicas = iw.catalog.get_replicas(lfns).ok
    usage = iw.catalog.directory_usage(["/demo/user/a/alice/outputs"]).ok["/demo/user/a/alice/outputs"]
    table = Table("lfn", "replicas", title="job outputs in the SQL catalog, on two file SEs")
    for lfn in lfns:
        table.add_row(lfn, ", ".join(sorted(replicas[lfn])))
    console.print(table)
    back = iw.dm.get_file(lfns[0], path / "fetched")
    console.print(f"  usage of /demo/user/a/alice/outputs: {usage.files} files, {usage.size} bytes, on "
                  f"{', '.join(sorted(usage.replicas))}; read back {back.name} (adler32 verified): "
                  f"{back.read_text().strip()!r}", highlight=False)

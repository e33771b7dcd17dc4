"""The job wrapper: one matched job, from its sandbox to its final status.

Steps, each reported in the job's history (source ``JobWrapper``):
input sandbox and input data download -> the payload under the watchdog,
with heartbeats that carry metrics and bring back ``Kill`` -> exit code and
the tail of stdout kept as job parameters -> output sandbox (over the size
limit, it becomes output data when a data uploader is given) -> output data
-> Done, or Failed with the step that failed as minor status. When the output
data left work to a failover request (an output on a failover SE, a registration
to redo), the job ends Completed with the minor status ``Pending Requests`` (or
``Application Finished With Errors`` for a non-zero exit code), as in DIRAC: the
request executor finalizes it once the requests are over. The wrapper never
raises for a job's failure: it returns a :class:`JobOutcome`.
"""

from __future__ import annotations

import fnmatch
import logging
import os
import shlex
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from attrs import evolve, field, frozen

from dirac_core.errors import DiracError
from dirac_core.jdl.description import JobDescription
from dirac_core.model.clock import Clock
from dirac_core.model.job import JobStatus
from dirac_core.pilot.services import PilotServices
from dirac_core.pilot.watchdog import Limits, ProcessTree, verdict
from dirac_core.wms.matcher import MatchedJob

__all__ = ["PENDING_REQUESTS", "DataTransfers", "JobOutcome", "JobWrapper", "UploadedData", "WrapperSettings"]

log = logging.getLogger(__name__)
_SOURCE = "JobWrapper"


#: the minor status of a job Completed with work left to requests
PENDING_REQUESTS = "Pending Requests"
_APP_ERRORS = "Application Finished With Errors"


@frozen(kw_only=True)
class UploadedData:
    """What storing a job's outputs did: their LFNs, and the ids of the failover requests that
    finish the work later (empty when everything is where it belongs)."""

    lfns: tuple[str, ...] = ()
    requests: tuple[str, ...] = ()


class DataTransfers(Protocol):
    """Input and output data (the data manager of the data-management issue plugs in here)."""

    def download(self, matched: MatchedJob, lfns: Sequence[str], dest: Path) -> None:
        """Fetch these files into ``dest``; raise ``DiracError`` when one cannot be had."""

    def upload(self, matched: MatchedJob, job: JobDescription, paths: Sequence[Path]) -> UploadedData:
        """Store and register output files of ``matched`` (failover included)."""


@frozen(kw_only=True)
class WrapperSettings:
    """How jobs are wrapped on this node.

    ``heartbeat_seconds`` is also the watchdog's period. ``container`` is a
    command prefix (``apptainer exec --bind DIR IMAGE``) put before the payload.
    """

    work_dir: Path = field(converter=Path)
    heartbeat_seconds: float = 60.0
    max_output_sandbox_mb: float = 10.0
    stdout_tail_lines: int = 50
    limits: Limits = field(factory=Limits)
    container: tuple[str, ...] = ()
    keep_work_dirs: bool = False


@frozen(kw_only=True)
class JobOutcome:
    """How a job ended on this node."""

    job_id: int
    status: JobStatus
    minor_status: str
    exit_code: int | None = None
    output_sandbox: str | None = None
    killed_by: str | None = None


class _Stamps:
    """Strictly increasing report times (the server applies updates in time order)."""

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self._last: datetime | None = None

    def next(self) -> datetime:
        now = self._clock.now()
        if self._last is not None and now <= self._last:
            now = self._last + timedelta(microseconds=1)
        self._last = now
        return now


class _Failed(Exception):
    """A step failed: the job ends Failed with this minor status."""

    def __init__(self, minor: str, app: str | None = None) -> None:
        super().__init__(minor)
        self.minor = minor
        self.app = app


class JobWrapper:
    """Runs one matched job with the services of its pilot."""

    def __init__(self, services: PilotServices, settings: WrapperSettings, *, clock: Clock,
                 data: DataTransfers | None = None,
                 time_left: Callable[[], float | None] = lambda: None,
                 environment: Mapping[str, str] | None = None) -> None:
        self.services = services
        self.environment = dict(environment or {})
        self.settings = settings
        self.clock = clock
        self.data = data
        self.time_left = time_left
        self._job = threading.local()

    # -- reporting ---------------------------------------------------------------

    def _report(self, job_id: int, status: JobStatus | None, minor: str, app: str | None = None) -> None:
        update: dict[str, str] = {"MinorStatus": minor, "Source": _SOURCE}
        if status is not None:
            update["Status"] = str(status)
        if app is not None:
            update["ApplicationStatus"] = app
        try:
            self.services.set_status({job_id: {self._job.stamps.next(): update}})
        except DiracError as exc:  # reporting must not kill the job; the heartbeat keeps it alive
            log.warning("job %s: could not report %s/%s: %s", job_id, status, minor, exc)

    # -- the job -------------------------------------------------------------------

    def run(self, matched: MatchedJob) -> JobOutcome:
        """Run ``matched`` to its end and report it; the outcome."""
        # one wrapper runs a pilot's jobs in parallel threads: what belongs to one job is per thread
        self._job.stamps = _Stamps(self.clock)
        self._job.pending = []  # the failover requests this job's outputs left
        job_id = matched.job_id
        work = self.settings.work_dir / str(job_id)
        work.mkdir(parents=True, exist_ok=True)
        try:
            job = JobDescription.from_jdl(matched.jdl)
            self._report(job_id, JobStatus.RUNNING, "Job Initialization")
            self._inputs(matched, job, work)
            code, killed = self._execute(job_id, job, work)
            if killed == "Kill":
                return JobOutcome(job_id=job_id, status=JobStatus.KILLED, minor_status="Killed",
                                  exit_code=code, killed_by="Kill")
            if killed is not None:
                self._report(job_id, JobStatus.FAILED, killed, f"killed by the watchdog (exit {code})")
                return JobOutcome(job_id=job_id, status=JobStatus.FAILED, minor_status=killed,
                                  exit_code=code, killed_by=killed)
            self._report(job_id, JobStatus.COMPLETING, "Uploading Output Sandbox")
            sandbox = self._output_sandbox(matched, job, work)
            if job.output_data:
                self._report(job_id, None, "Uploading Output Data")
                self._output_data(matched, job, work)
        except _Failed as failure:
            self._report(job_id, JobStatus.FAILED, failure.minor, failure.app)
            return JobOutcome(job_id=job_id, status=JobStatus.FAILED, minor_status=failure.minor)
        except DiracError as exc:  # a bad JDL, a service refusing: the job cannot go on
            minor = f"Job Wrapper: {exc}"[:255]
            self._report(job_id, JobStatus.FAILED, minor)
            return JobOutcome(job_id=job_id, status=JobStatus.FAILED, minor_status=minor)
        finally:
            if not self.settings.keep_work_dirs:
                _remove_tree(work)
        if self._job.pending:  # the request executor finalizes the job once its requests are over
            status, minor = JobStatus.COMPLETED, PENDING_REQUESTS if code == 0 else _APP_ERRORS
        elif code == 0:
            status, minor = JobStatus.DONE, "Execution Complete"
        else:
            status, minor = JobStatus.FAILED, _APP_ERRORS
        self._report(job_id, status, minor, f"exit code {code}")
        return JobOutcome(job_id=job_id, status=status, minor_status=minor, exit_code=code,
                          output_sandbox=sandbox)

    def _inputs(self, matched: MatchedJob, job: JobDescription, work: Path) -> None:
        job_id = matched.job_id
        sandboxes = [item for item in job.input_sandbox if item.startswith("SB:")]
        lfns = [item[4:] for item in job.input_sandbox if item.upper().startswith("LFN:")]
        if sandboxes:
            self._report(job_id, None, "Downloading InputSandbox")
            for pfn in sandboxes:
                try:
                    self.services.download_sandbox(pfn, work)
                except DiracError as exc:
                    raise _Failed("Input Sandbox Download", str(exc)[:255]) from exc
        wanted = [*lfns, *(lfn.removeprefix("LFN:").removeprefix("lfn:") for lfn in job.input_data)]
        if wanted:
            self._report(job_id, None, "Downloading InputData")
            if self.data is None:
                raise _Failed("Input Data Resolution", "no data manager on this pilot")
            try:
                self.data.download(matched, wanted, work)
            except DiracError as exc:
                raise _Failed("Input Data Resolution", str(exc)[:255]) from exc

    def _command(self, job: JobDescription, work: Path) -> list[str]:
        executable = job.executable
        local = work / executable
        if not os.path.isabs(executable) and local.is_file():
            local.chmod(local.stat().st_mode | 0o700)
            executable = str(local)
        argv = [executable, *shlex.split(job.arguments or "")]
        return [*self.settings.container, *argv]

    def _execute(self, job_id: int, job: JobDescription, work: Path) -> tuple[int, str | None]:
        """Run the payload; its exit code and why it was stopped (None, "Kill", a watchdog reason)."""
        self._report(job_id, None, "Application", "Running")
        env = {**os.environ, **self.environment, "DIRACJOBID": str(job_id), "JOBID": str(job_id),
               "DIRAC_PROCESSORS": str(job.min_processors)}
        out_path, err_path = work / job.std_output, work / job.std_error
        started = time.monotonic()
        try:
            with out_path.open("wb") as out, err_path.open("wb") as err:
                process = subprocess.Popen(self._command(job, work), cwd=work, stdout=out, stderr=err,
                                           env=env, start_new_session=True)
        except OSError as exc:
            raise _Failed("Application not found", f"{job.executable}: {exc.strerror}") from exc
        tree = ProcessTree(process.pid, work_dir=work)
        limits = self._limits(job)
        stopped: str | None = None
        sampled = 0.0  # CPU seconds of the tree at the last sample (orphaned processes included)
        while True:
            ended = _reap(process, self.settings.heartbeat_seconds)
            if ended is not None:
                break
            sample = tree.measure(time.monotonic() - started, self.time_left())
            sampled = max(sampled, sample.cpu)
            stopped = verdict(sample, limits) or self._heartbeat(job_id, sample.cpu, sample.rss_mb)
            if stopped is not None:
                tree.stop()
                ended = _reap(process, None)
                break
        assert ended is not None
        code, cpu = ended
        self._keep_parameters(job_id, code, out_path, time.monotonic() - started, max(cpu, sampled))
        return code, stopped

    def _limits(self, job: JobDescription) -> Limits:
        limits = self.settings.limits
        if job.max_ram_gb and not limits.max_rss_mb:
            limits = evolve(limits, max_rss_mb=job.max_ram_gb * 1024.0)
        return limits

    def _heartbeat(self, job_id: int, cpu: float, rss_mb: float) -> str | None:
        """Send a heartbeat; "Kill" when the server asks for it."""
        try:
            answer = self.services.heartbeat({job_id: {"CPUConsumed": round(cpu, 2),
                                                       "MemoryUsed": round(rss_mb, 1)}})
        except DiracError as exc:
            log.warning("job %s: heartbeat failed: %s", job_id, exc)
            return None
        commands = answer.ok.get(job_id, [])
        return "Kill" if any(c.command == "Kill" for c in commands) else None

    def _keep_parameters(self, job_id: int, code: int, out_path: Path, wall: float, cpu: float) -> None:
        tail = _tail(out_path, self.settings.stdout_tail_lines)
        try:
            self.services.set_parameters(job_id, {"ExitCode": code, "StandardOutput": tail,
                                                  "HostName": socket.gethostname(),
                                                  "WallClockTime(s)": round(wall, 2),
                                                  "TotalCPUTime(s)": round(cpu, 2)})
        except DiracError as exc:
            log.warning("job %s: could not keep its parameters: %s", job_id, exc)

    def _output_sandbox(self, matched: MatchedJob, job: JobDescription, work: Path) -> str | None:
        job_id = matched.job_id
        files = _matching(work, job.output_sandbox)
        if not files:
            return None
        size_mb = sum(p.stat().st_size for p in files) / 1e6
        if size_mb > self.settings.max_output_sandbox_mb:
            if self.data is None:
                raise _Failed("Output Sandbox Too Large",
                              f"{size_mb:.1f} MB > {self.settings.max_output_sandbox_mb} MB")
            self._upload_data(matched, job, files)
            return None
        try:
            return self.services.upload_output(job_id, files)
        except DiracError as exc:
            raise _Failed("Uploading Output Sandbox", str(exc)[:255]) from exc

    def _output_data(self, matched: MatchedJob, job: JobDescription, work: Path) -> None:
        files = _matching(work, job.output_data)
        missing = [p for p in job.output_data if not any(fnmatch.fnmatch(f.name, p) for f in files)]
        if missing:
            raise _Failed("Uploading Output Data", f"missing output files: {', '.join(missing)}"[:255])
        self._upload_data(matched, job, files)

    def _upload_data(self, matched: MatchedJob, job: JobDescription, files: list[Path]) -> None:
        if self.data is None:
            raise _Failed("Uploading Output Data", "no data manager on this pilot")
        try:
            uploaded = self.data.upload(matched, job, files)
        except DiracError as exc:
            raise _Failed("Uploading Output Data", str(exc)[:255]) from exc
        self._job.pending.extend(uploaded.requests)


def _reap(process: subprocess.Popen[bytes], timeout: float | None) -> tuple[int, float] | None:
    """Wait for the payload to exit (at most ``timeout`` seconds; None: as long as it takes): its
    exit code and the CPU seconds it used, or None when it still runs.

    The CPU time is the kernel's resource usage of the reaped process, which includes every
    descendant it waited for: what ``Popen.wait`` would throw away. A payload reaped by someone
    else (a SIGCHLD handler) falls back on ``Popen.wait`` and reports no CPU time.
    """
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = 0.0005
    while True:
        try:
            pid, status, usage = os.wait4(process.pid, 0 if deadline is None else os.WNOHANG)
        except ChildProcessError:
            return process.wait(), 0.0
        if pid:
            process.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
            return process.returncode, usage.ru_utime + usage.ru_stime
        left = deadline - time.monotonic() if deadline is not None else 0.0
        if left <= 0:
            return None
        time.sleep(min(delay, left))
        delay = min(delay * 2, 0.05)


def _matching(work: Path, patterns: Sequence[str]) -> list[Path]:
    """Files of ``work`` (top level) whose names match one of ``patterns``, sorted."""
    names = [p.removeprefix("LFN:") for p in patterns]
    return sorted(f for f in work.iterdir() if f.is_file() and any(fnmatch.fnmatch(f.name, n) for n in names))


def _tail(path: Path, lines: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 64 * 1024))
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)

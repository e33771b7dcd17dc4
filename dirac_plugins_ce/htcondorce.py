"""Pilots on an HTCondor-CE, through the HTCondor Python bindings (the ``htcondorce`` CE).

Two ways to reach the CE, chosen by the section's ``use_local_schedd``:

* **local schedd** (the default): each pilot is a *grid-universe* job of this
  machine's schedd, ``grid_resource = condor <host> <host>:<port>``; the
  schedd's gridmanager forwards it to the CE, reports the remote state in
  ``GridJobStatus`` and brings the output back into the job directory.
* **remote schedd**: each pilot is a vanilla job submitted (spooled) straight
  to the CE's schedd, found through the CE's collector at host:port; the
  output is fetched with ``retrieve`` (``condor_transfer_data``).

The submit description is built by :func:`build_description`; the pilot
script is written once per content into the job directory. Status comes
from ``JobStatus`` (and ``GridJobStatus``, hold and exit codes), see
:func:`job_status`, looking in the queue first and then in the history. Our
jobs carry ``DiracCE`` and ``DiracQueue`` attributes, which is how
:meth:`HTCondorCEComputingElement.ce_status` finds them. A reference is
``htcondorce://<ce name>/<cluster>.<proc>``.

The schedd is a constructor argument (a
:class:`~dirac_plugins_ce.htcondorce_schedd.ScheddClient`); without one,
the bindings (``htcondor2``) are imported on first use and a missing
package is a :class:`~dirac_core.errors.PluginUnavailable`. Failures are
:class:`~dirac_core.errors.CEUnreachable` when the schedd or collector does
not answer and :class:`~dirac_core.errors.CEError` with HTCondor's message
otherwise.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any, ParamSpec, Self, TypeVar

from dirac_core.config.queues import Queue
from dirac_core.config.sections import CESection, HTCondorCE
from dirac_core.errors import BulkResult, CEError, CEUnreachable, DiracError, NotFound, PluginError
from dirac_core.model.pilot import PilotStatus
from dirac_core.plugins.computing import CEContext, CEStatus, ComputingElement
from dirac_plugins_ce.htcondorce_schedd import BindingsSchedd, JobAd, ScheddClient, translate_error

__all__ = ["JOB_STATUS", "PROJECTION", "HTCondorCEComputingElement", "build_description", "job_status"]

log = logging.getLogger(__name__)

T = TypeVar("T")
P = ParamSpec("P")

#: HTCondor's ``JobStatus`` codes and the pilot status each means (refined by :func:`job_status`).
JOB_STATUS: Mapping[int, PilotStatus] = MappingProxyType({
    1: PilotStatus.WAITING,   # Idle
    2: PilotStatus.RUNNING,   # Running
    3: PilotStatus.ABORTED,   # Removed
    4: PilotStatus.DONE,      # Completed (Failed when the exit code is not 0)
    5: PilotStatus.ABORTED,   # Held (Waiting while its input is spooled)
    6: PilotStatus.RUNNING,   # Transferring output
    7: PilotStatus.RUNNING,   # Suspended
})

#: Remote states (``GridJobStatus``) that mean the pilot started while the local job still says Idle.
_GRID_STARTED = frozenset({"RUNNING", "TRANSFERRING_OUTPUT", "SUSPENDED", "COMPLETED"})
_HOLD_SPOOLING_INPUT = 16

#: The job attributes every query asks for.
PROJECTION = ("ClusterId", "ProcId", "JobStatus", "GridJobStatus", "GridJobId", "HoldReasonCode",
              "HoldReasonSubCode", "HoldReason", "ExitCode", "ExitBySignal", "DiracPilotStamp")

_CHUNK = 100  # job ids per query, as DIRAC does
_STAMP = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_JOB_ID = re.compile(r"\d+\.\d+")
_HELD_LIFETIME = 86400  # seconds a held pilot stays in the queue before the schedd removes it


def job_status(ad: JobAd) -> PilotStatus:
    """The pilot status of a job ad; Unknown when ``JobStatus`` is missing or not a known code.

    Idle with a started ``GridJobStatus`` is Running (the local schedd lags
    behind the CE); Completed with a non-zero ``ExitCode`` or a signal is
    Failed; Held while spooling input (hold code 16) is Waiting.
    """
    code = ad.get("JobStatus")
    if not isinstance(code, int) or isinstance(code, bool):
        return PilotStatus.UNKNOWN
    if code == 1 and str(ad.get("GridJobStatus", "")).upper() in _GRID_STARTED:
        return PilotStatus.RUNNING
    if code == 4 and (ad.get("ExitBySignal") is True or ad.get("ExitCode", 0) not in (0, None)):
        return PilotStatus.FAILED
    if code == 5 and ad.get("HoldReasonCode") == _HOLD_SPOOLING_INPUT:
        return PilotStatus.WAITING
    return JOB_STATUS.get(code, PilotStatus.UNKNOWN)


def _quote(text: str) -> str:
    """A ClassAd string literal."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def build_description(*, ce_name: str, host: str, port: int, queue: Queue, executable: str,
                      grid: bool, token_file: str | None = None,
                      proxy_file: str | None = None) -> dict[str, str]:
    """The submit description of our pilots (one job per ``stamp`` item).

    ``grid`` selects the grid universe (``grid_resource = condor <host>
    <host>:<port>``, submitted to a local schedd) over the vanilla universe
    (submitted to the CE's own schedd). Output, error and user log are
    ``$(Cluster).$(Process).out/.err`` and ``$(Cluster).log`` in the job
    directory (``initialdir``, set by the caller). The queue gives the CE's
    routing attributes: ``+xcount`` (processors), ``+maxMemory`` (MB) and
    ``+maxWallTime`` (minutes). A token file means SciTokens
    authentication; a proxy file is sent as ``x509userproxy``.
    """
    description = {
        "executable": executable,
        "transfer_executable": "true",
        "output": "$(Cluster).$(Process).out",
        "error": "$(Cluster).$(Process).err",
        "log": "$(Cluster).log",
        "environment": '"DIRAC_PILOT_STAMP=$(stamp) HTCONDOR_JOBID=$(Cluster).$(Process)"',
        "+DiracCE": _quote(ce_name),
        "+DiracQueue": _quote(queue.name),
        "+DiracPilotStamp": '"$(stamp)"',
        "+xcount": str(queue.processors),
        "periodic_remove": f"(JobStatus == 5) && (time() - EnteredCurrentStatus) > {_HELD_LIFETIME}",
        "kill_sig": "SIGTERM",
    }
    if grid:
        description["universe"] = "grid"
        description["grid_resource"] = f"condor {host} {host}:{port}"
    else:
        description.update({"universe": "vanilla", "should_transfer_files": "YES",
                            "when_to_transfer_output": "ON_EXIT_OR_EVICT"})
    if queue.max_ram_mb is not None:
        description["+maxMemory"] = str(queue.max_ram_mb)
    if queue.max_wall_time is not None:
        description["+maxWallTime"] = str(-(-queue.max_wall_time // 60))
    if token_file is not None:
        description.update({"use_scitokens": "true", "scitokens_file": token_file})
    if proxy_file is not None:
        description["x509userproxy"] = proxy_file
    return description


def _job_id(ad: JobAd) -> str:
    return f"{ad['ClusterId']}.{ad['ProcId']}"


def _by_id_constraint(job_ids: Sequence[str]) -> str:
    pairs = (job_id.split(".") for job_id in job_ids)
    return " || ".join(f"(ClusterId == {cluster} && ProcId == {proc})" for cluster, proc in pairs)


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


class HTCondorCEComputingElement(ComputingElement):
    """Pilots as HTCondor jobs on one queue of an HTCondor-CE.

    ``jobs_dir`` holds the pilot scripts and the jobs' output, error and log
    files. ``schedd`` is the schedd to talk to; None connects through the
    bindings on first use (the local schedd, or the CE's when
    ``use_local_schedd`` is False). Pilot scripts are kept (one per
    distinct content): the gridmanager copies them only when it forwards a job.
    """

    def __init__(self, *, name: str, host: str, queue: Queue, jobs_dir: Path | str, port: int = 9619,
                 use_local_schedd: bool = True, token_file: str | None = None,
                 proxy_file: str | None = None, schedd: ScheddClient | None = None) -> None:
        self.name = name
        self.host = host
        self.port = port
        self.queue = queue
        self.jobs_dir = Path(jobs_dir)
        self.use_local_schedd = use_local_schedd
        self.token_file = token_file
        self.proxy_file = proxy_file
        self._schedd = schedd
        self._lock = threading.Lock()

    @classmethod
    def from_section(cls, section: CESection, queue: Queue, context: CEContext) -> Self:
        """Build the driver for ``queue`` of an :class:`~dirac_core.config.sections.HTCondorCE` section.

        Jobs live in ``<work_dir>/htcondorce/<ce name>/<queue>``; the token
        is the section's ``token_file``, else the context's. Raises
        :class:`PluginError` for another kind of section.
        """
        if not isinstance(section, HTCondorCE):
            raise PluginError(f"{cls.__name__} needs an HTCondorCE section, not {type(section).__name__}",
                              driver=cls.__name__)
        return cls(name=section.name, host=section.host, port=section.port, queue=queue,
                   jobs_dir=Path(context.work_dir, "htcondorce", section.name, queue.name),
                   use_local_schedd=section.use_local_schedd,
                   token_file=section.token_file or context.token_file, proxy_file=context.proxy_file)

    # -- helpers ---------------------------------------------------------------

    def _call(self, action: str, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Call the schedd, translating HTCondor's errors at this boundary."""
        try:
            return fn(*args, **kwargs)
        except DiracError:
            raise
        except Exception as exc:  # the bindings raise HTCondorException, a bare Exception subclass
            raise translate_error(exc, action=action, ce=self.name) from exc

    def _connect(self) -> ScheddClient:
        with self._lock:
            if self._schedd is None:
                host = None if self.use_local_schedd else self.host
                self._schedd = BindingsSchedd.connect(host=host, port=self.port)
            return self._schedd

    def _get_schedd(self) -> ScheddClient:
        """The schedd, connected on first use (CEUnreachable when it cannot be found)."""
        return self._call("find the schedd", self._connect)

    def _reference(self, job_id: str) -> str:
        return f"htcondorce://{self.name}/{job_id}"

    def _parse(self, references: Sequence[str], result: BulkResult[str, Any]) -> dict[str, str]:
        """Map each reference of ours to its job id; fail the others with NotFound in ``result``."""
        prefix = f"htcondorce://{self.name}/"
        wanted: dict[str, str] = {}
        for ref in references:
            job_id = ref[len(prefix):] if ref.startswith(prefix) else ""
            if _JOB_ID.fullmatch(job_id):
                wanted[ref] = job_id
            else:
                result.add_failed(ref, NotFound(f"{ref!r} is not a pilot reference of HTCondor-CE "
                                                f"{self.name}", reference=ref))
        return wanted

    def _lookup(self, job_ids: Sequence[str]) -> tuple[dict[str, JobAd], dict[str, JobAd]]:
        """The ads of ``job_ids`` still queued, and those of the others found in the history."""
        schedd = self._get_schedd()
        queued: dict[str, JobAd] = {}
        for chunk in _chunks(list(dict.fromkeys(job_ids))):
            ads = self._call("query jobs", schedd.query, _by_id_constraint(chunk), PROJECTION)
            queued.update((_job_id(ad), ad) for ad in ads)
        done: dict[str, JobAd] = {}
        missing = [job_id for job_id in dict.fromkeys(job_ids) if job_id not in queued]
        for chunk in _chunks(missing):
            ads = self._call("query the history", schedd.history, _by_id_constraint(chunk), PROJECTION,
                             match=len(chunk))
            done.update((_job_id(ad), ad) for ad in ads)
        return queued, done

    def _write_script(self, executable: str) -> Path:
        """Write the pilot script once per content (atomically); CEError when the disk refuses."""
        digest = hashlib.sha256(executable.encode()).hexdigest()[:16]
        path = self.jobs_dir / f"pilot-{digest}.sh"
        try:
            self.jobs_dir.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                fd, tmp = tempfile.mkstemp(dir=self.jobs_dir, prefix=".pilot-")
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(executable)
                os.chmod(tmp, 0o755)  # noqa: S103 - the pilot must be executable by the batch system
                os.replace(tmp, path)
        except OSError as exc:
            raise CEError(f"HTCondor-CE {self.name}: cannot write the pilot script in {self.jobs_dir}: "
                          f"{exc.strerror}", ce=self.name) from exc
        return path

    def description(self, executable_path: str) -> dict[str, str]:
        """This CE's submit description for the pilot script at ``executable_path``."""
        description = build_description(
            ce_name=self.name, host=self.host, port=self.port, queue=self.queue,
            executable=executable_path, grid=self.use_local_schedd, token_file=self.token_file,
            proxy_file=self.proxy_file)
        description["initialdir"] = str(self.jobs_dir)
        return description

    # -- the contract ----------------------------------------------------------

    def submit(self, executable: str, stamps: Sequence[str]) -> BulkResult[str, str]:
        """Submit one job per stamp, all in one cluster.

        A stamp that is not letters, digits and ``_.-`` fails. When the
        schedd refuses the submission every stamp fails with a
        :class:`CEError` carrying HTCondor's message. Raises
        :class:`CEUnreachable` when the schedd does not answer (nothing was
        submitted) and :class:`CEError` when the script cannot be written.
        """
        result: BulkResult[str, str] = BulkResult()
        valid: list[str] = []
        for stamp in dict.fromkeys(stamps):
            if _STAMP.fullmatch(stamp):
                valid.append(stamp)
            else:
                result.add_failed(stamp, CEError(f"invalid pilot stamp {stamp!r}", stamp=stamp))
        if not valid:
            return result
        description = self.description(str(self._write_script(executable)))
        items = [{"stamp": stamp} for stamp in valid]
        try:
            job_ids = self._call("submit pilots", self._get_schedd().submit, description, items,
                                 spool=not self.use_local_schedd)
        except CEUnreachable:
            raise
        except CEError as exc:
            for stamp in valid:
                result.add_failed(stamp, exc)
            return result
        if len(job_ids) != len(valid):
            raise CEError(f"HTCondor-CE {self.name}: submitted {len(valid)} pilots but the schedd "
                          f"returned {len(job_ids)} job ids", ce=self.name)
        for stamp, job_id in zip(valid, job_ids, strict=True):
            result.add_ok(stamp, self._reference(job_id))
        log.info("HTCondor-CE %s: submitted %d pilots (%s)", self.name, len(job_ids), ", ".join(job_ids))
        return result

    def status(self, references: Sequence[str]) -> BulkResult[str, PilotStatus]:
        """Each pilot's status (:func:`job_status`) from the queue, else from the history.

        A reference that is not ours, or whose job is in neither, fails with
        :class:`NotFound`. Raises :class:`CEUnreachable`/:class:`CEError`
        when the schedd cannot be queried.
        """
        result: BulkResult[str, PilotStatus] = BulkResult()
        wanted = self._parse(references, result)
        if not wanted:
            return result
        queued, done = self._lookup(list(wanted.values()))
        for ref, job_id in wanted.items():
            ad = queued.get(job_id) or done.get(job_id)
            if ad is None:
                result.add_failed(ref, NotFound(f"job {job_id} is neither queued nor in the history of "
                                                f"HTCondor-CE {self.name}", reference=ref))
            else:
                result.add_ok(ref, job_status(ad))
        return result

    def kill(self, references: Sequence[str]) -> BulkResult[str, None]:
        """Remove the pilots' jobs; a job already finished (or only in the history) counts as killed.

        Unknown references fail with :class:`NotFound`; jobs the schedd
        refuses to remove fail with :class:`CEError`. Raises when the schedd
        cannot be queried.
        """
        result: BulkResult[str, None] = BulkResult()
        wanted = self._parse(references, result)
        if not wanted:
            return result
        queued, done = self._lookup(list(wanted.values()))
        live = [job_id for job_id, ad in queued.items() if ad.get("JobStatus") not in (3, 4)]
        refused: dict[str, CEError] = {}
        if live:
            try:
                answer = self._call("remove pilots", self._get_schedd().remove, live)
            except CEError as exc:
                refused = dict.fromkeys(live, exc)
            else:
                if answer.get("TotalSuccess", len(live)) < len(live):
                    refused = self._still_alive(live, answer)
        for ref, job_id in wanted.items():
            if job_id in refused:
                result.add_failed(ref, refused[job_id])
            elif job_id in queued or job_id in done:
                result.add_ok(ref, None)
            else:
                result.add_failed(ref, NotFound(f"job {job_id} is neither queued nor in the history of "
                                                f"HTCondor-CE {self.name}", reference=ref))
        return result

    def _still_alive(self, job_ids: list[str], answer: JobAd) -> dict[str, CEError]:
        """The jobs a partial removal left alive, each with the error to report."""
        queued, _ = self._lookup(job_ids)
        counts = ", ".join(f"{key}={answer[key]}" for key in sorted(answer) if str(key).startswith("Total"))
        return {job_id: CEError(f"HTCondor-CE {self.name}: the schedd did not remove job {job_id} ({counts})",
                                ce=self.name, job_id=job_id)
                for job_id, ad in queued.items() if ad.get("JobStatus") not in (3, 4)}

    def output(self, reference: str) -> tuple[str, str]:
        """The job's output and error files, ``("", "")`` while there are none yet.

        With a remote schedd the files are first fetched (``retrieve``).
        Raises :class:`NotFound` for a reference that is not ours, or whose
        job has no file and is neither queued nor in the history; and the
        schedd's errors as :class:`CEUnreachable`/:class:`CEError`.
        """
        result: BulkResult[str, None] = BulkResult()
        job_id = self._parse([reference], result).get(reference)
        if job_id is None:
            raise result.failed[reference]
        if not self.use_local_schedd:
            self._call("retrieve output", self._get_schedd().retrieve, [job_id])
        out, err = (self.jobs_dir / f"{job_id}.{kind}" for kind in ("out", "err"))
        if not out.exists() and not err.exists():
            queued, done = self._lookup([job_id])
            if not queued and not done:
                raise NotFound(f"job {job_id} is neither queued nor in the history of HTCondor-CE "
                               f"{self.name}", reference=reference)
        return _read(out), _read(err)

    def ce_status(self) -> CEStatus:
        """Our queued jobs on this CE and queue (``DiracCE``/``DiracQueue``): Running and Waiting."""
        constraint = f"DiracCE == {_quote(self.name)} && DiracQueue == {_quote(self.queue.name)}"
        ads = self._call("query jobs", self._get_schedd().query, constraint, PROJECTION)
        statuses = [job_status(ad) for ad in ads]
        return CEStatus(running=sum(s is PilotStatus.RUNNING for s in statuses),
                        waiting=sum(s.is_waiting for s in statuses))


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""

"""The batch computing element: a batch system's commands run through a transport.

This is the thin "SSH CE" layer: ``batch system x transport`` covers SLURM,
HTCondor, PBS, LSF, SGE, OAR and plain processes, on this machine or on a
login node reached by SSH. Each pilot is one batch job running a small script
written into ``work_dir`` on the batch machine; its stdout and stderr land in
``work_dir/output``, where :meth:`BatchComputingElement.output` reads them.

References look like ``batch://<ce name>/<batch job id>``.
"""

from __future__ import annotations

import hashlib
import posixpath
import shlex
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Self

from dirac_core.errors import BulkResult, CEError, ConfigError, DiracError, NotFound
from dirac_core.model.pilot import PilotStatus
from dirac_core.plugins.batch import BatchSubmission, BatchSystem
from dirac_core.plugins.computing import CEContext, CEStatus, ComputingElement
from dirac_core.plugins.groups import PluginGroup
from dirac_core.plugins.loading import load_driver
from dirac_core.plugins.transport import Transport

if TYPE_CHECKING:
    from dirac_core.config.queues import Queue
    from dirac_core.config.sections import CESection

__all__ = ["BatchComputingElement"]


class BatchComputingElement(ComputingElement):
    """Pilots as batch jobs of ``batch`` submitted through ``transport`` (both closed with the CE)."""

    def __init__(self, *, name: str, batch: BatchSystem, transport: Transport, work_dir: str,
                 queue: str | None = None, processors: int = 1, memory_mb: int | None = None,
                 wall_seconds: int | None = None, extra_options: Sequence[str] = ()) -> None:
        self.name = name
        self.batch = batch
        self.transport = transport
        self.work_dir = work_dir.rstrip("/") or "/"
        self.queue = queue
        self.processors = processors
        self.memory_mb = memory_mb
        self.wall_seconds = wall_seconds
        self.extra_options = tuple(extra_options)
        self._lock = threading.Lock()
        self._known: dict[str, PilotStatus] = {}  # reference -> last status seen

    @classmethod
    def from_section(cls, section: CESection, queue: Queue, context: CEContext) -> Self:
        """Options read from a ``type = "batch"`` section: ``batch_system``, ``transport``
        (``ssh``: ``host``, ``port``, ``user``, ``ssh_key``), ``shared_dir`` (the work folder on the
        batch machine; default ``context.work_dir``) and ``submit_options``; from its ``options``:
        ``environment`` (``["NAME=value", ...]`` for every batch command, e.g. ``SLURM_CONF``),
        and for SSH ``known_hosts`` and ``host_key_policy`` (``reject``, the default, or
        ``accept-new``). Raises ``ConfigError`` for a malformed option."""
        options = section.options
        environment = _environment(options.get("environment", ()), section.name)
        batch_cls = load_driver(PluginGroup.BATCH_SYSTEMS, str(getattr(section, "batch_system", "fork")))
        transport_name = str(getattr(section, "transport", "local"))
        transport_cls = load_driver(PluginGroup.TRANSPORTS, transport_name)
        if transport_name == "ssh":
            transport = transport_cls(
                host=section.host, port=section.port, user=section.user,  # type: ignore[attr-defined]
                key_file=section.ssh_key, environment=environment,  # type: ignore[attr-defined]
                known_hosts=str(options["known_hosts"]) if "known_hosts" in options else None,
                host_key_policy=str(options.get("host_key_policy", "reject")))
        else:
            transport = transport_cls(environment=environment)
        extra = shlex.split(str(getattr(section, "submit_options", None) or ""))
        return cls(name=section.name, batch=batch_cls(), transport=transport,
                   work_dir=str(getattr(section, "shared_dir", None) or context.work_dir),
                   queue=queue.name, processors=queue.processors, memory_mb=queue.max_ram_mb,
                   wall_seconds=queue.max_wall_time, extra_options=extra)

    # -- references -----------------------------------------------------------------

    def _reference(self, job_id: str) -> str:
        return f"batch://{self.name}/{job_id}"

    def _job_id(self, reference: str) -> str:
        prefix = f"batch://{self.name}/"
        job_id = reference[len(prefix):]
        if not reference.startswith(prefix) or not job_id or any(c in job_id for c in "\x00\n"):
            raise NotFound(f"no pilot {reference[:200]!r} on {self.name}", reference=reference[:200])
        return job_id

    # -- the contract ---------------------------------------------------------------

    def submit(self, executable: str, stamps: Sequence[str]) -> BulkResult[str, str]:
        """One batch job per stamp; the stamp reaches the pilot as ``DIRAC_PILOT_STAMP``."""
        result: BulkResult[str, str] = BulkResult()
        digest = hashlib.sha256(executable.encode()).hexdigest()[:16]
        shared = f"{self.work_dir}/pilot-{digest}.sh"
        output_dir = f"{self.work_dir}/output"
        try:
            self.transport.write_file(shared, executable, mode=0o755)
        except DiracError as exc:
            for stamp in stamps:
                result.add_failed(stamp, exc)
            return result
        for stamp in stamps:
            try:
                script = f"{self.work_dir}/{_safe(stamp)}.sh"
                self.transport.write_file(script, f"#!/bin/sh\nDIRAC_PILOT_STAMP={shlex.quote(stamp)}\n"
                                          f"export DIRAC_PILOT_STAMP\nexec {shlex.quote(shared)} \"$@\"\n",
                                          mode=0o755)
                self.transport.write_file(f"{output_dir}/.keep", "")
                submission = BatchSubmission(script=script, output_dir=output_dir, queue=self.queue,
                                             name=f"dirac-{_safe(stamp)}"[:64], processors=self.processors,
                                             memory_mb=self.memory_mb, wall_seconds=self.wall_seconds,
                                             extra_options=self.extra_options)
                done = self.transport.run(self.batch.submit_command(submission)).check()
                [job_id] = self.batch.parse_submit(done.stdout, submission)
            except DiracError as exc:
                result.add_failed(stamp, exc)
                continue
            except ValueError:
                result.add_failed(stamp, CEError(f"{self.name}: expected one batch job id per pilot"))
                continue
            reference = self._reference(job_id)
            with self._lock:
                self._known[reference] = PilotStatus.SUBMITTED
            result.add_ok(stamp, reference)
        return result

    def status(self, references: Sequence[str]) -> BulkResult[str, PilotStatus]:
        """Ask the batch system (then its accounting, for jobs it forgot); a job found nowhere is
        Unknown if this CE submitted it, NotFound otherwise."""
        result: BulkResult[str, PilotStatus] = BulkResult()
        ids: dict[str, str] = {}
        for reference in references:
            try:
                ids[self._job_id(reference)] = reference
            except NotFound as exc:
                result.add_failed(reference, exc)
        if not ids:
            return result
        found = self.batch.parse_status(self.transport.run(self.batch.status_command(list(ids))).stdout,
                                        list(ids))
        missing = [j for j in ids if j not in found]
        history = self.batch.history_command(missing) if missing else None
        if history is not None:
            ran = self.transport.run(history)
            if ran.ok:
                found.update(self.batch.parse_history(ran.stdout, missing))
        with self._lock:
            for job_id, reference in ids.items():
                status = found.get(job_id)
                if status is None and reference not in self._known:
                    result.add_failed(reference, NotFound(f"no pilot {reference!r} on {self.name}",
                                                          reference=reference))
                    continue
                status = status or PilotStatus.UNKNOWN
                self._known[reference] = status
                result.add_ok(reference, status)
        return result

    def kill(self, references: Sequence[str]) -> BulkResult[str, None]:
        """Cancel pilots; a pilot that already ended counts as killed."""
        result: BulkResult[str, None] = BulkResult()
        ids = {}
        for reference in references:
            try:
                ids[self._job_id(reference)] = reference
            except NotFound as exc:
                result.add_failed(reference, exc)
        if not ids:
            return result
        done = self.transport.run(self.batch.kill_command(list(ids)))
        statuses = self.status(list(ids.values())) if not done.ok else None
        for reference in ids.values():
            ended = statuses is not None and statuses.ok.get(reference) in (
                PilotStatus.DONE, PilotStatus.FAILED, PilotStatus.ABORTED, PilotStatus.UNKNOWN)
            if statuses is None or ended:
                result.add_ok(reference, None)
            else:
                assert statuses is not None
                result.add_failed(reference, statuses.failed.get(reference) or CEError(
                    f"{self.name}: could not cancel {reference}: {done.stderr.strip()}",
                    stderr=done.stderr))
        return result

    def output(self, reference: str) -> tuple[str, str]:
        """The pilot's stdout and stderr files as far as they exist (empty before the job starts)."""
        output_dir = f"{self.work_dir}/output"
        out_path, err_path = self.batch.output_files(self._job_id(reference), output_dir)
        # a reference is data (a pilot registers its own): one whose files would be elsewhere than
        # in the output directory (``batch://ce/../../etc/x``) names no pilot of ours
        if {posixpath.dirname(posixpath.normpath(p)) for p in (out_path, err_path)} != {
                posixpath.normpath(output_dir)}:
            raise NotFound(f"no pilot {reference[:200]!r} on {self.name}", reference=reference[:200])
        texts = []
        for path in (out_path, err_path):
            try:
                texts.append(self.transport.read_file(path))
            except NotFound:
                texts.append("")
        return texts[0], texts[1]

    def ce_status(self) -> CEStatus:
        """Running and waiting pilots among those this CE object submitted or was asked about."""
        with self._lock:
            statuses = list(self._known.values())
        return CEStatus(running=sum(s is PilotStatus.RUNNING for s in statuses),
                        waiting=sum(s.is_waiting for s in statuses))

    def close(self) -> None:
        self.transport.close()


def _environment(value: object, ce: str) -> dict[str, str]:
    """``["NAME=value", ...]`` as a mapping; ``ConfigError`` naming the CE for anything else."""
    items = (value,) if isinstance(value, str) else value
    if not isinstance(items, tuple | list) or not all(isinstance(i, str) and "=" in i for i in items):
        raise ConfigError([(f"{ce}.options.environment", "expected a list of 'NAME=value' strings")])
    return dict(item.split("=", 1) for item in items)


def _safe(stamp: str) -> str:
    """A stamp as a file and job name (letters, digits, ``-`` and ``_``)."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in stamp)

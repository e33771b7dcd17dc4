"""HTCondor: ``condor_submit`` with the whole submit description on its command line.

``condor_submit`` accepts submit commands as ``name=value`` arguments and the
queue statement as ``-queue N``; with both and no file argument it reads no
file and no standard input. So one argument vector carries the description
and nothing has to be written or piped::

    condor_submit -terse -batch-name dirac-pilot universe=vanilla executable=/path/pilot.sh
        output=/out/$(Cluster).$(Process).out error=/out/$(Cluster).$(Process).err
        request_cpus=4 request_memory=8000 allowed_execute_duration=86400
        environment="DIRAC_PILOT_STAMP=abc" -queue 10

``-terse`` prints one ``first - last`` range per cluster (``12.0 - 12.9``).
The executable and the output files are transferred by HTCondor, so no file
system has to be shared with the execute nodes. The ``queue`` of a submission
is ignored: HTCondor has no queues (select machines with ``extra_options``
such as ``requirements=...``).

Statuses come from ``condor_q <ids> -af:j JobStatus ExitCode ExitBySignal
HoldReasonCode`` while jobs are in the queue and from ``condor_history`` once
they have left it.
"""

from __future__ import annotations

import logging
import posixpath
import re
from collections.abc import Mapping, Sequence
from types import MappingProxyType

from dirac_core.errors import CEError
from dirac_core.model.pilot import PilotStatus
from dirac_core.plugins.batch import BatchSubmission, BatchSystem
from dirac_plugins_ce.batch.common import (
    check_job_ids,
    check_submission,
    excerpt,
    lines,
    submit_error,
)

__all__ = ["HOLD_FAILED", "HOLD_WAITING", "JOB_STATUS", "HTCondor", "condor_environment", "condor_status"]

log = logging.getLogger(__name__)

_S = PilotStatus
SYSTEM = "HTCondor"

#: ``JobStatus`` codes. 4 (Completed) is Done only with exit code 0 and no signal,
#: 5 (Held) depends on ``HoldReasonCode`` (see :data:`HOLD_WAITING`, :data:`HOLD_FAILED`).
#: A suspended job (7) has started and keeps its slot: it stays Running.
JOB_STATUS: Mapping[int, PilotStatus] = MappingProxyType({
    0: _S.WAITING,   # Unexpanded (old schedds): never ran yet
    1: _S.WAITING,   # Idle
    2: _S.RUNNING,   # Running
    3: _S.ABORTED,   # Removed (condor_rm, periodic_remove)
    4: _S.DONE,      # Completed
    5: _S.ABORTED,   # Held
    6: _S.RUNNING,   # Transferring output
    7: _S.RUNNING,   # Suspended
})

#: Hold reasons after which the job still starts on its own: 15 SubmittedOnHold
#: (released by whoever asked for it), 16 SpoolingInput (``-spool``/``-remote``).
HOLD_WAITING = frozenset({15, 16})

#: Hold reasons meaning the job ran into a limit: 34 JobOutOfResources (memory),
#: 46 JobDurationExceeded, 47 JobExecuteExceeded (``allowed_execute_duration``).
#: Every other hold (user, policy, transfer or system problems) is Aborted.
HOLD_FAILED = frozenset({34, 46, 47})

_ATTRIBUTES = ("JobStatus", "ExitCode", "ExitBySignal", "HoldReasonCode")
_JOB_ID = re.compile(r"\d+\.\d+")
_TERSE = re.compile(r"(\d+)\.(\d+)\s*-\s*(\d+)\.(\d+)")
_COMPLETED, _HELD = 4, 5


class HTCondor(BatchSystem):
    """Commands of an HTCondor schedd, the local one unless ``schedd``/``pool`` are given.

    ``schedd`` becomes ``-name`` and ``pool`` ``-pool`` on every command.
    """

    def __init__(self, *, schedd: str | None = None, pool: str | None = None) -> None:
        self.schedd = schedd
        self.pool = pool

    def _target(self) -> list[str]:
        words = []
        if self.schedd:
            words += ["-name", self.schedd]
        if self.pool:
            words += ["-pool", self.pool]
        return words

    def submit_command(self, submission: BatchSubmission) -> list[str]:
        """``condor_submit -terse ... -queue <count>``: one cluster of ``count`` jobs.

        ``processors`` becomes ``request_cpus``, ``memory_mb`` ``request_memory``
        (MB), ``wall_seconds`` ``allowed_execute_duration`` (the job is held,
        then reported Failed, when it runs longer), ``environment`` the
        ``environment`` command. ``extra_options`` are inserted before the
        submit commands, so they may be options (``-spool``) or more
        ``name=value`` commands. Raises :class:`CEError` for an invalid submission.
        """
        check_submission(submission, SYSTEM)
        out = posixpath.join(submission.output_dir, "$(Cluster).$(Process)")
        argv = ["condor_submit", "-terse", *self._target(), "-batch-name", submission.name,
                *submission.extra_options,
                "universe=vanilla", f"executable={submission.script}",
                f"output={out}.out", f"error={out}.err", f"request_cpus={submission.processors}"]
        if submission.memory_mb is not None:
            argv.append(f"request_memory={submission.memory_mb}")
        if submission.wall_seconds is not None:
            argv.append(f"allowed_execute_duration={submission.wall_seconds}")
        if submission.environment:
            argv.append(f"environment={condor_environment(submission.environment)}")
        return [*argv, "-queue", str(submission.count)]

    def parse_submit(self, stdout: str, submission: BatchSubmission) -> list[str]:
        """The ``cluster.proc`` ids of every ``first - last`` range ``-terse`` printed.

        Other lines (warnings) are ignored; :class:`CEError` when there is no
        range at all or a range spans two clusters.
        """
        ids: list[str] = []
        for line in lines(stdout):
            match = _TERSE.fullmatch(line)
            if not match:
                continue
            cluster, first, last_cluster, last = (int(g) for g in match.groups())
            if cluster != last_cluster or last < first:
                raise CEError(f"{SYSTEM}: impossible job range {line!r} from condor_submit",
                              system=SYSTEM, stdout=stdout)
            ids += [f"{cluster}.{proc}" for proc in range(first, last + 1)]
        if not ids:
            raise submit_error(SYSTEM, stdout)
        if len(ids) != submission.count:
            log.warning("condor_submit queued %d job(s) where %d were asked", len(ids), submission.count)
        return ids

    def status_command(self, job_ids: Sequence[str]) -> list[str]:
        """``condor_q <ids> -af:j JobStatus ExitCode ExitBySignal HoldReasonCode``.

        Raises :class:`CEError` for an empty list or an id that is not ``cluster.proc``.
        """
        ids = check_job_ids(job_ids, _JOB_ID, SYSTEM)
        return ["condor_q", *self._target(), *ids, "-af:j", *_ATTRIBUTES]

    def parse_status(self, stdout: str, job_ids: Sequence[str]) -> dict[str, PilotStatus]:
        """Statuses of the requested jobs still in the queue.

        Empty output is normal (the jobs have left the queue: ask
        :meth:`history_command`) and gives ``{}``; a line that is not a job id
        followed by the four attributes raises :class:`CEError`.
        """
        return _parse_autoformat(stdout, job_ids, "condor_q")

    def history_command(self, job_ids: Sequence[str]) -> list[str]:
        """``condor_history -match N -constraint <these jobs> -af:j ...``, the same attributes.

        The constraint names each ``ClusterId``/``ProcId`` pair, and ``-match``
        stops the backwards scan of the history once every job is found.
        """
        ids = check_job_ids(job_ids, _JOB_ID, SYSTEM)
        pairs = (job_id.split(".") for job_id in ids)
        constraint = " || ".join(f"(ClusterId == {c} && ProcId == {p})" for c, p in pairs)
        return ["condor_history", *self._target(), "-match", str(len(ids)),
                "-constraint", constraint, "-af:j", *_ATTRIBUTES]

    def parse_history(self, stdout: str, job_ids: Sequence[str]) -> dict[str, PilotStatus]:
        """Statuses from :meth:`history_command`'s output, parsed like :meth:`parse_status`."""
        return _parse_autoformat(stdout, job_ids, "condor_history")

    def kill_command(self, job_ids: Sequence[str]) -> list[str]:
        """``condor_rm <ids>``; the jobs then report JobStatus 3 (Aborted)."""
        return ["condor_rm", *self._target(), *check_job_ids(job_ids, _JOB_ID, SYSTEM)]

    def output_files(self, job_id: str, submission_dir: str) -> tuple[str, str]:
        """``<dir>/<cluster>.<proc>.out`` and ``.err``, as :meth:`submit_command` names them."""
        base = posixpath.join(submission_dir, job_id)
        return f"{base}.out", f"{base}.err"


def condor_status(job_status: int, exit_code: int | None, by_signal: bool,
                  hold_code: int | None) -> PilotStatus:
    """The pilot status of a job from its ``JobStatus`` and the attributes that refine it.

    Unknown ``JobStatus`` codes give Unknown.
    """
    status = JOB_STATUS.get(job_status, _S.UNKNOWN)
    if job_status == _COMPLETED and (by_signal or exit_code not in (0, None)):
        return _S.FAILED
    if job_status == _HELD and hold_code is not None:
        if hold_code in HOLD_WAITING:
            return _S.WAITING
        if hold_code in HOLD_FAILED:
            return _S.FAILED
    return status


def condor_environment(environment: Mapping[str, str]) -> str:
    """``environment`` in the submit language's new (double-quoted) syntax.

    Entries holding spaces or quotes are wrapped in single quotes (an inner
    single quote doubled), double quotes are doubled, and ``$`` is written
    ``$(DOLLAR)`` so that condor_submit does not expand a value as a macro.
    Raises :class:`CEError` for an invalid variable name, or a value holding a
    line break or NUL (the submit language cannot carry them).
    """
    entries = []
    for name, value in environment.items():
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise CEError(f"{SYSTEM}: invalid environment variable name {name!r}", system=SYSTEM)
        if re.search(r"[\r\n\0]", value):
            raise CEError(f"{SYSTEM}: environment variable {name} holds a line break or NUL",
                          system=SYSTEM)
        entry = f"{name}={value}".replace("$", "$(DOLLAR)").replace('"', '""')
        if re.search(r"[\s']", entry):
            entry = "'" + entry.replace("'", "''") + "'"
        entries.append(entry)
    return '"' + " ".join(entries) + '"'


def _parse_autoformat(stdout: str, job_ids: Sequence[str], command: str) -> dict[str, PilotStatus]:
    wanted = set(job_ids)
    statuses: dict[str, PilotStatus] = {}
    for line in lines(stdout):
        fields = line.split()
        if len(fields) != 1 + len(_ATTRIBUTES) or not _JOB_ID.fullmatch(fields[0]):
            raise CEError(f"{SYSTEM}: unexpected {command} line {excerpt(line)}, expected "
                          f"'<cluster>.<proc> {' '.join(_ATTRIBUTES)}'", system=SYSTEM, stdout=stdout)
        job_id, job_status, exit_code, by_signal, hold_code = fields
        if job_id not in wanted:
            continue
        try:
            code = int(job_status)
        except ValueError:
            raise CEError(f"{SYSTEM}: JobStatus {job_status!r} of job {job_id} is not a number",
                          system=SYSTEM, stdout=stdout) from None
        statuses[job_id] = condor_status(code, _optional_int(exit_code), by_signal.lower() == "true",
                                         _optional_int(hold_code))
    return statuses


def _optional_int(word: str) -> int | None:
    # condor prints "undefined" for an attribute the job ad does not have
    try:
        return int(word)
    except ValueError:
        return None

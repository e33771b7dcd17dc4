"""PBS: OpenPBS/PBS Professional (``flavour="pbspro"``, the default) and Torque (``"torque"``).

PBS names a job's output files after the job *name* (``<name>.o<seq>``), which
:meth:`~dirac_core.plugins.batch.BatchSystem.output_files` cannot know, and
neither flavour substitutes the job id in ``-o``. So the job submitted is a
small wrapper, given to ``qsub`` on its standard input, that sends its output
to ``<output_dir>/$PBS_JOBID.out`` and ``.err`` and then replaces itself with
the script (``exec``, so the script's ``#!`` line is honoured)::

    env DIRAC_PILOT_STAMP=abc sh -c 'printf "%s\\n" "$1" | (shift; exec "$@")' sh \\
        '<wrapper>' qsub -N dirac-pilot -S /bin/sh -o /dev/null -e /dev/null -q long \\
        -l select=1:ncpus=4:mem=8000mb -l walltime=24:00:00 -v DIRAC_PILOT_STAMP -J 0-9

``PBS_JOBID`` is the id qsub prints (``1234.server``, array elements
``1234[3].server``), so the files match :meth:`PBS.output_files`. The output
directory must be visible from the worker nodes. Several copies are one job
array (``-J`` for PBS Pro, ``-t`` for Torque); ``environment`` reaches the job
through ``qsub -v NAME`` (the value taken from qsub's own environment, so
commas and quotes in values need no escaping).

Statuses come from ``qstat -f`` (PBS Pro: ``qstat -x -f``, which includes
finished jobs while the server keeps job history; Torque keeps completed jobs
in state C for ``keep_completed`` seconds).
"""

from __future__ import annotations

import logging
import posixpath
import re
import shlex
from collections.abc import Sequence

from dirac_core.errors import CEError, ConfigError
from dirac_core.model.pilot import PilotStatus
from dirac_core.plugins.batch import BatchSubmission, BatchSystem
from dirac_plugins_ce.batch.common import (
    StatusTable,
    check_job_ids,
    check_submission,
    clock,
    env_names,
    env_words,
    excerpt,
    lines,
    pipe_to,
    status_table,
    submit_error,
)

__all__ = ["FINISHED_STATES", "JOB_STATES", "PBS", "finished_status", "pbs_status"]

log = logging.getLogger(__name__)

_S = PilotStatus
SYSTEM = "PBS"
FLAVOURS = ("pbspro", "torque")

#: ``job_state`` letters of both flavours. Suspended jobs (S, U) have started
#: and keep their resources, so they stay Running; E is a job exiting after it ran.
#: M (moved to another server) is Unknown: this server no longer follows the job.
JOB_STATES: StatusTable = status_table({
    "Q": _S.WAITING,   # queued
    "H": _S.WAITING,   # held
    "W": _S.WAITING,   # waiting for its start time
    "T": _S.WAITING,   # in transit to a new location
    "R": _S.RUNNING,   # running
    "E": _S.RUNNING,   # exiting after having run
    "S": _S.RUNNING,   # suspended
    "U": _S.RUNNING,   # suspended by cycle harvesting (PBS Pro)
    "B": _S.RUNNING,   # array with at least one subjob running (PBS Pro)
    "M": _S.UNKNOWN,   # moved to another server (PBS Pro history)
    "C": _S.DONE,      # completed (Torque): see finished_status
    "F": _S.DONE,      # finished (PBS Pro history): see finished_status
    "X": _S.DONE,      # subjob finished or deleted (PBS Pro): see finished_status
})

#: States whose pilot status depends on the exit status (see :func:`finished_status`).
FINISHED_STATES = frozenset({"C", "F", "X"})

#: PBS reports a job killed by signal N (qdel) as exit status 256 + N.
_KILLED_BASE = 256

_JOB_ID = re.compile(r"\d+(\[\d*\])?(\.[A-Za-z0-9_.-]+)?")
_SUBMITTED = re.compile(r"(\d+)(\[\])?(\.[A-Za-z0-9_.-]+)?")
_ATTRIBUTE = re.compile(r"\s+([A-Za-z_][A-Za-z0-9_.]*)\s+=\s?(.*)")


class PBS(BatchSystem):
    """``qsub``/``qstat``/``qdel`` of PBS Pro (``flavour="pbspro"``) or Torque (``"torque"``).

    Raises :class:`ConfigError` for another flavour.
    """

    def __init__(self, *, flavour: str = "pbspro") -> None:
        if flavour not in FLAVOURS:
            raise ConfigError([("flavour", f"expected one of {', '.join(FLAVOURS)}, got {flavour!r}")])
        self.flavour = flavour

    def submit_command(self, submission: BatchSubmission) -> list[str]:
        """``qsub`` fed the output-redirecting wrapper (see the module docstring).

        Resources: Torque ``-l nodes=1:ppn=N``, ``-l mem=Mmb``; PBS Pro
        ``-l select=1:ncpus=N:mem=Mmb``; both ``-l walltime=H:MM:SS``.
        ``extra_options`` come last. Raises :class:`CEError` for an invalid
        submission or environment variable name.
        """
        check_submission(submission, SYSTEM)
        env = env_words(submission.environment, SYSTEM)
        argv = ["qsub", "-N", submission.name, "-S", "/bin/sh", "-o", "/dev/null", "-e", "/dev/null"]
        if submission.queue:
            argv += ["-q", submission.queue]
        argv += self._resources(submission)
        if submission.environment:
            argv += ["-v", env_names(submission.environment)]
        if submission.count > 1:
            argv += ["-t" if self.flavour == "torque" else "-J", f"0-{submission.count - 1}"]
        argv += submission.extra_options
        return [*env, *pipe_to(_wrapper(submission), argv)]

    def _resources(self, submission: BatchSubmission) -> list[str]:
        memory = f"mem={submission.memory_mb}mb" if submission.memory_mb is not None else None
        words: list[str] = []
        if self.flavour == "torque":
            if submission.processors > 1:
                words += ["-l", f"nodes=1:ppn={submission.processors}"]
            if memory:
                words += ["-l", memory]
        elif submission.processors > 1 or memory:
            chunk = f"select=1:ncpus={submission.processors}" + (f":{memory}" if memory else "")
            words += ["-l", chunk]
        if submission.wall_seconds is not None:
            words += ["-l", f"walltime={clock(submission.wall_seconds)}"]
        return words

    def parse_submit(self, stdout: str, submission: BatchSubmission) -> list[str]:
        """The job id qsub printed, or the ids of every array element (``1234[0].server`` ...).

        The id is the last line of the form ``<seq>[.<server>]`` or
        ``<seq>[].<server>`` (earlier lines may be site messages); an array id
        expands to ``submission.count`` elements numbered from 0. Raises
        :class:`CEError` when there is no such line.
        """
        for line in reversed(lines(stdout)):
            match = _SUBMITTED.fullmatch(line)
            if not match:
                continue
            seq, array, server = match.group(1), match.group(2), match.group(3) or ""
            if not array:
                if submission.count > 1:
                    log.warning("qsub printed the plain job id %s for an array of %d", line,
                                submission.count)
                return [line]
            return [f"{seq}[{index}]{server}" for index in range(submission.count)]
        raise submit_error(SYSTEM, stdout)

    def status_command(self, job_ids: Sequence[str]) -> list[str]:
        """``qstat -f <ids>`` (``qstat -x -f`` for PBS Pro, to include finished jobs).

        Raises :class:`CEError` for an empty list or an id not of the form ``1234[.server]``.
        """
        ids = check_job_ids(job_ids, _JOB_ID, SYSTEM)
        history = ["-x"] if self.flavour == "pbspro" else []
        return ["qstat", *history, "-f", *ids]

    def parse_status(self, stdout: str, job_ids: Sequence[str]) -> dict[str, PilotStatus]:
        """Statuses from ``qstat -f`` blocks (``Job Id: ...`` then ``name = value`` lines).

        Jobs are matched on the sequence number and array index, so
        ``1234.server`` and ``1234.server.example.org`` are the same job.
        Empty output (qstat reports unknown ids on stderr) gives ``{}``;
        output without any ``Job Id:`` line raises :class:`CEError`.
        """
        by_key = {_key(job_id): job_id for job_id in job_ids}
        statuses: dict[str, PilotStatus] = {}
        for job, attributes in _blocks(stdout):
            job_id = by_key.get(_key(job))
            if job_id is None:
                continue
            state = attributes.get("job_state", "").strip()
            exit_status = attributes.get("exit_status")
            statuses[job_id] = pbs_status(state, _int_or_none(exit_status))
        return statuses

    def kill_command(self, job_ids: Sequence[str]) -> list[str]:
        """``qdel <ids>``; killed jobs finish with exit status 256 + signal (Aborted)."""
        return ["qdel", *check_job_ids(job_ids, _JOB_ID, SYSTEM)]

    def output_files(self, job_id: str, submission_dir: str) -> tuple[str, str]:
        """``<dir>/<job id>.out`` and ``.err``, the wrapper's ``$PBS_JOBID`` files."""
        base = posixpath.join(submission_dir, job_id)
        return f"{base}.out", f"{base}.err"


def pbs_status(state: str, exit_status: int | None) -> PilotStatus:
    """The pilot status of a ``job_state`` letter, refined by ``Exit_status`` when finished."""
    if state in FINISHED_STATES:
        return finished_status(exit_status)
    return JOB_STATES.get(state, _S.UNKNOWN)


def finished_status(exit_status: int | None) -> PilotStatus:
    """The pilot status of a finished PBS job.

    No exit status: deleted before it ran (Aborted). 0: Done. 256 + N: killed
    by signal N, as qdel does (Aborted). Negative (PBS could not start or
    had to stop the job, e.g. ``JOB_EXEC_*`` codes) or any other value: Failed.
    """
    if exit_status is None:
        return _S.ABORTED
    if exit_status == 0:
        return _S.DONE
    if exit_status > _KILLED_BASE:
        return _S.ABORTED
    return _S.FAILED


def _wrapper(submission: BatchSubmission) -> str:
    out = shlex.quote(submission.output_dir.rstrip("/") or "/")
    return "\n".join([
        "#!/bin/sh",
        f'exec >{out}/"$PBS_JOBID".out 2>{out}/"$PBS_JOBID".err </dev/null',
        f"exec {shlex.quote(submission.script)}",
    ])


def _key(job_id: str) -> str:
    return job_id.split(".", 1)[0]


def _int_or_none(value: str | None) -> int | None:
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def _blocks(stdout: str) -> list[tuple[str, dict[str, str]]]:
    """``(job id, attributes)`` per ``Job Id:`` block; attribute names lower-cased.

    Continuation lines (long values wrapped by qstat) are appended to the
    previous attribute.
    """
    blocks: list[tuple[str, dict[str, str]]] = []
    last: str | None = None
    for raw in stdout.splitlines():
        if not raw.strip():
            continue
        if raw.startswith("Job Id:"):
            blocks.append((raw.split(":", 1)[1].strip(), {}))
            last = None
            continue
        if not blocks:
            raise CEError(f"{SYSTEM}: qstat output does not start with 'Job Id:': {excerpt(stdout)}",
                          system=SYSTEM, stdout=stdout)
        attributes = blocks[-1][1]
        match = _ATTRIBUTE.fullmatch(raw)
        if match:
            last = match.group(1).lower()
            attributes[last] = match.group(2)
        elif last is not None and raw[:1].isspace():
            attributes[last] += raw.strip()
    return blocks

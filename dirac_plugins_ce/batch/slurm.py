"""SLURM: ``sbatch``, ``squeue``, ``sacct`` and ``scancel`` command lines and their outputs.

Submission: one ``sbatch --parsable`` per submission. A single pilot is a
plain job whose id is SLURM's job id (``"4711"``) and whose output files
are ``<output_dir>/%j.out`` and ``.err``; several pilots are one job array
(``--array=0-<count-1>``) whose pilots are ``"4711_0"``, ``"4711_1"``, ...,
the ``<array job id>_<task id>`` form every SLURM command accepts, with
output files ``%A_%a.out`` and ``.err``. Either way a pilot's output files
are named ``<pilot id>.out`` and ``<pilot id>.err``.

Statuses: ``squeue`` knows pending and running jobs, and finished ones for
``MinJobAge`` seconds (300 by default); ``sacct`` knows finished jobs for as
long as the site keeps accounting (it needs ``slurmdbd``: build the driver
with ``accounting=False`` where there is none). Both report SLURM's job
states, mapped by :func:`pilot_status`.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType

from dirac_core.model.pilot import PilotStatus
from dirac_core.plugins.batch import BatchSubmission, BatchSystem
from dirac_plugins_ce.batch.common import (
    StatusTable,
    check_job_ids,
    check_submission,
    env_words,
    status_table,
    submit_error,
)

__all__ = ["SLURM_STATES", "Slurm", "pilot_status"]

_W, _R, _D, _F, _A, _U = (PilotStatus.WAITING, PilotStatus.RUNNING, PilotStatus.DONE,
                          PilotStatus.FAILED, PilotStatus.ABORTED, PilotStatus.UNKNOWN)

#: Every SLURM job state, by its full name (``squeue %T``, ``sacct State``), and
#: what it means for a pilot. SUSPENDED and STOPPED jobs have started and keep
#: their allocation, so they stay Running (a pilot may not go back to Waiting
#: once it ran). A REVOKED job is a federation sibling whose real job runs on
#: another cluster: this cluster cannot tell its fate, so Unknown.
SLURM_STATES: StatusTable = status_table({
    "PENDING": _W,
    "CONFIGURING": _W,
    "REQUEUED": _W,
    "REQUEUE_HOLD": _W,
    "REQUEUE_FED": _W,
    "RESV_DEL_HOLD": _W,
    "RUNNING": _R,
    "COMPLETING": _R,
    "RESIZING": _R,
    "SIGNALING": _R,
    "STAGE_OUT": _R,
    "SUSPENDED": _R,
    "STOPPED": _R,
    "COMPLETED": _D,
    "FAILED": _F,
    "NODE_FAIL": _F,
    "OUT_OF_MEMORY": _F,
    "TIMEOUT": _F,
    "BOOT_FAIL": _F,
    "DEADLINE": _F,
    "SPECIAL_EXIT": _F,
    "CANCELLED": _A,
    "PREEMPTED": _A,
    "REVOKED": _U,
})

#: The compact codes of ``squeue %t`` for the same states.
_COMPACT: Mapping[str, str] = MappingProxyType({
    "PD": "PENDING", "CF": "CONFIGURING", "RQ": "REQUEUED", "RH": "REQUEUE_HOLD",
    "RF": "REQUEUE_FED", "RD": "RESV_DEL_HOLD", "R": "RUNNING", "CG": "COMPLETING",
    "RS": "RESIZING", "SI": "SIGNALING", "SO": "STAGE_OUT", "S": "SUSPENDED", "ST": "STOPPED",
    "CD": "COMPLETED", "F": "FAILED", "NF": "NODE_FAIL", "OOM": "OUT_OF_MEMORY", "TO": "TIMEOUT",
    "BF": "BOOT_FAIL", "DL": "DEADLINE", "SE": "SPECIAL_EXIT", "CA": "CANCELLED", "PR": "PREEMPTED",
    "RV": "REVOKED",
})

SYSTEM = "SLURM"
_JOB_ID = re.compile(r"(?P<job>\d+)(?:;\S+)?")  # sbatch --parsable: "id" or "id;cluster"
_PILOT_ID = re.compile(r"\d+(?:_\d+)?")  # a job, or one task of an array
_ARRAY = re.compile(r"(?P<job>\d+)_\[(?P<ranges>[\d,\-]+)(?:%\d+)?\]")


def pilot_status(state: str) -> PilotStatus:
    """The pilot status of a SLURM job state, full name or compact code, any case.

    ``sacct`` decorations are ignored (``"CANCELLED by 1234"``,
    ``"RUNNING+"``); a state this module does not know is Unknown.
    """
    words = state.strip().split()
    if not words:
        return PilotStatus.UNKNOWN
    name = words[0].rstrip("+*").upper()
    name = _COMPACT.get(name, name)
    return SLURM_STATES.get(name, PilotStatus.UNKNOWN)


def _time_limit(seconds: int) -> str:
    """``days-hours:minutes:seconds``, a ``--time`` form every SLURM version reads."""
    minutes, secs = divmod(max(seconds, 1), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    return f"{days}-{hours:02d}:{minutes:02d}:{secs:02d}"


def _expand(job_field: str) -> Iterator[str]:
    """The job ids a ``JobID`` column names; ``"7_[1,3-4%2]"`` gives ``7_1``, ``7_3``, ``7_4``."""
    match = _ARRAY.fullmatch(job_field)
    if match is None:
        yield job_field
        return
    for part in match["ranges"].split(","):
        first, _, last = part.partition("-")
        if not first:
            continue
        for task in range(int(first), int(last or first) + 1):
            yield f"{match['job']}_{task}"


def _parse_table(stdout: str, job_ids: Sequence[str]) -> dict[str, PilotStatus]:
    """Statuses from ``JobID|State`` lines, for the requested ``job_ids`` only."""
    wanted = set(job_ids)
    statuses: dict[str, PilotStatus] = {}
    for line in stdout.splitlines():
        fields = line.strip().split("|")
        if len(fields) < 2 or not fields[0]:
            continue
        status = pilot_status(fields[1])
        for job_id in _expand(fields[0].strip()):
            if job_id in wanted:
                statuses[job_id] = status
    return statuses


class Slurm(BatchSystem):
    """The SLURM command line (see the module documentation for ids and files).

    ``accounting=False`` tells the driver that the cluster keeps no job
    accounting (no ``slurmdbd``): :meth:`history_command` is then None.
    """

    def __init__(self, *, accounting: bool = True) -> None:
        self.accounting = accounting

    def submit_command(self, submission: BatchSubmission) -> list[str]:
        """``sbatch --parsable`` with name, partition, CPUs, memory, time limit and output files.

        ``submission.environment`` is given to ``sbatch`` through an ``env``
        prefix, and SLURM exports the submitting environment to the job (its
        default, ``--export=ALL``). ``extra_options`` come last, before the
        script, so they override ours. Raises :class:`~dirac_core.errors.CEError`
        for an invalid submission (a count below 1, ...) or an environment
        variable name a shell could not export.
        """
        check_submission(submission, SYSTEM)
        pattern = "%A_%a" if submission.count > 1 else "%j"
        argv = env_words(submission.environment, SYSTEM)
        argv += ["sbatch", "--parsable", f"--job-name={submission.name}", "--nodes=1", "--ntasks=1",
                 f"--cpus-per-task={submission.processors}",
                 f"--output={posixpath.join(submission.output_dir, pattern + '.out')}",
                 f"--error={posixpath.join(submission.output_dir, pattern + '.err')}"]
        if submission.count > 1:
            argv.append(f"--array=0-{submission.count - 1}")
        if submission.queue:
            argv.append(f"--partition={submission.queue}")
        if submission.memory_mb is not None:
            argv.append(f"--mem={submission.memory_mb}M")
        if submission.wall_seconds is not None:
            argv.append(f"--time={_time_limit(submission.wall_seconds)}")
        argv += [*submission.extra_options, submission.script]
        return argv

    def parse_submit(self, stdout: str, submission: BatchSubmission) -> list[str]:
        """The pilot ids of a ``sbatch --parsable`` output (``CEError`` when it holds no job id).

        The last line that is a job id wins (site scripts may print banners first).
        """
        for line in reversed(stdout.splitlines()):
            match = _JOB_ID.fullmatch(line.strip())
            if match is not None:
                job = match["job"]
                if submission.count == 1:
                    return [job]
                return [f"{job}_{task}" for task in range(submission.count)]
        raise submit_error(SYSTEM, stdout)

    def status_command(self, job_ids: Sequence[str]) -> list[str]:
        """``squeue`` listing ``job_ids`` one line each, array tasks apart, in any state.

        Beware of SLURM: asked for a single id it no longer knows, ``squeue``
        exits with 1 ("Invalid job id specified"); asked for several, it lists
        those it knows and exits with 0. Raises ``CEError`` for no ids or an id
        that is not a SLURM job (``4711``) or array task (``4711_3``).
        """
        ids = check_job_ids(job_ids, _PILOT_ID, SYSTEM)
        return ["squeue", "--noheader", "--array", "--states=all", f"--jobs={','.join(ids)}",
                "--format=%i|%T"]

    def parse_status(self, stdout: str, job_ids: Sequence[str]) -> dict[str, PilotStatus]:
        """Statuses of the requested jobs in a ``%i|%T`` squeue output; others are ignored.

        A pending array printed as one line (``4711_[2-5]``) counts for each task it names.
        """
        return _parse_table(stdout, job_ids)

    def history_command(self, job_ids: Sequence[str]) -> list[str] | None:
        """``sacct`` for the allocations of ``job_ids`` (no steps), or None without accounting.

        Given job ids, ``sacct`` searches all of the accounting's history, not
        just today. Raises ``CEError`` for ids as :meth:`status_command` does.
        """
        if not self.accounting:
            return None
        ids = check_job_ids(job_ids, _PILOT_ID, SYSTEM)
        return ["sacct", "--noheader", "--parsable2", "--allocations", f"--jobs={','.join(ids)}",
                "--format=JobID,State"]

    def parse_history(self, stdout: str, job_ids: Sequence[str]) -> dict[str, PilotStatus]:
        """Statuses of the requested jobs in a ``JobID|State`` sacct output.

        ``"CANCELLED by <uid>"`` is Aborted; step lines (``4711.batch``) are
        ignored since they are not pilot ids.
        """
        return _parse_table(stdout, job_ids)

    def kill_command(self, job_ids: Sequence[str]) -> list[str]:
        """``scancel`` of every id (a pending array task is cancelled alone).

        Raises ``CEError`` for ids as :meth:`status_command` does (an id such
        as ``--user=x`` would otherwise cancel other jobs).
        """
        return ["scancel", *check_job_ids(job_ids, _PILOT_ID, SYSTEM)]

    def output_files(self, job_id: str, submission_dir: str) -> tuple[str, str]:
        """``<submission_dir>/<job_id>.out`` and ``.err`` (``%j`` or ``%A_%a`` at submission)."""
        return (posixpath.join(submission_dir, f"{job_id}.out"),
                posixpath.join(submission_dir, f"{job_id}.err"))

    def __repr__(self) -> str:
        return f"Slurm(accounting={self.accounting})"


"""(Son of / Univa / Altair) Grid Engine: ``qsub -terse``, ``qstat -xml``, ``qacct``, ``qdel``.

Grid Engine substitutes ``$JOB_ID`` and ``$TASK_ID`` in the ``-o``/``-e``
paths itself, so the output files are named by job id with no wrapper::

    env DIRAC_PILOT_STAMP=abc qsub -terse -N dirac-pilot -b y
        -o '/out/$JOB_ID.$TASK_ID.out' -e '/out/$JOB_ID.$TASK_ID.err' -q long.q
        -pe smp 4 -l h_vmem=2000M -l h_rt=86400 -v DIRAC_PILOT_STAMP -t 1-10 /path/pilot.sh

Several copies are an array job (``-t 1-N``) whose tasks are ``1234.1`` ...
``1234.N``; a single copy is ``1234``. ``-b y`` runs the script as a command
(its ``#!`` line is honoured, whatever the queue's ``shell_start_mode``), so
it must be on a file system the execution hosts see, like the output
directory, which Grid Engine writes directly. ``-v NAME`` passes each
``environment`` variable with the value qsub itself has.

``qstat -xml`` lists the user's pending and running jobs; finished jobs
are found with ``qacct`` (:meth:`SGE.history_command`).
"""

from __future__ import annotations

import math
import posixpath
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence

from dirac_core.errors import CEError
from dirac_core.model.pilot import PilotStatus
from dirac_core.plugins.batch import BatchSubmission, BatchSystem
from dirac_plugins_ce.batch.common import (
    StatusTable,
    check_job_ids,
    check_submission,
    env_names,
    env_words,
    excerpt,
    lines,
    status_table,
    submit_error,
)

__all__ = ["JOB_STATES", "SGE", "accounting_status", "sge_status"]

_S = PilotStatus
SYSTEM = "SGE"

#: The state strings qstat documents. Letters: q queued, w waiting, h hold,
#: R restarted, r running, t transferring, s/S/T suspended (by the user, the
#: queue, a load threshold), E error, d being deleted. A job that was
#: dispatched and then suspended keeps its slot: Running. A job in error
#: state (Eqw) never starts until an administrator clears it: Failed. A job
#: being deleted: Aborted. Other combinations follow :func:`sge_status`.
JOB_STATES: StatusTable = status_table({
    "qw": _S.WAITING, "hqw": _S.WAITING, "hRwq": _S.WAITING, "Rq": _S.WAITING,
    "r": _S.RUNNING, "t": _S.RUNNING, "Rr": _S.RUNNING, "Rt": _S.RUNNING,
    "s": _S.RUNNING, "ts": _S.RUNNING, "S": _S.RUNNING, "tS": _S.RUNNING,
    "T": _S.RUNNING, "tT": _S.RUNNING, "Rs": _S.RUNNING, "Rts": _S.RUNNING,
    "RS": _S.RUNNING, "RtS": _S.RUNNING, "RT": _S.RUNNING, "RtT": _S.RUNNING,
    "Eqw": _S.FAILED, "Ehqw": _S.FAILED, "EhRqw": _S.FAILED,
    "dr": _S.ABORTED, "dt": _S.ABORTED, "dRr": _S.ABORTED, "dRt": _S.ABORTED,
    "ds": _S.ABORTED, "dS": _S.ABORTED, "dT": _S.ABORTED, "dRs": _S.ABORTED,
    "dRS": _S.ABORTED, "dRT": _S.ABORTED,
})

#: ``qacct`` ``failed`` code of a job killed by a signal, as qdel does.
_FAILED_AFTER_JOB = 100
_KILL_EXITS = frozenset({137, 143})   # 128 + SIGKILL, 128 + SIGTERM

_JOB_ID = re.compile(r"\d+(\.\d+)?")
_TERSE = re.compile(r"(\d+)(?:\.(\d+)-(\d+):(\d+))?")
_VERBOSE = re.compile(r"Your job(?:-array)? (\d+)(?:\.(\d+)-(\d+):(\d+))? ")
_RANGE = re.compile(r"(\d+)(?:-(\d+)(?::(\d+))?)?")
_RECORD_SEPARATOR = re.compile(r"^=+\s*$", re.MULTILINE)
_QACCT_LOOP = ('for id do case $id in *.*) qacct -j "${id%%.*}" -t "${id#*.}";; '
               '*) qacct -j "$id";; esac; done; exit 0')


class SGE(BatchSystem):
    """Grid Engine commands.

    ``parallel_environment`` is the PE that gives several slots on one host
    (``-pe <pe> N``); ``memory_resource`` the per-slot memory complex that
    ``memory_mb`` is divided into (``h_vmem`` by default; sites also use
    ``mem_free`` or ``virtual_free``).
    """

    def __init__(self, *, parallel_environment: str = "smp", memory_resource: str = "h_vmem") -> None:
        self.parallel_environment = parallel_environment
        self.memory_resource = memory_resource

    def submit_command(self, submission: BatchSubmission) -> list[str]:
        """``qsub -terse``, one job or an array ``-t 1-count``.

        ``processors`` becomes ``-pe <pe> N``, ``memory_mb`` ``-l <resource>=<M>M``
        per slot (rounded up), ``wall_seconds`` ``-l h_rt=<seconds>``;
        ``extra_options`` come just before the script. Raises :class:`CEError`
        for an invalid submission or environment variable name.
        """
        check_submission(submission, SYSTEM)
        array = submission.count > 1
        files = posixpath.join(submission.output_dir, "$JOB_ID.$TASK_ID" if array else "$JOB_ID")
        argv = [*env_words(submission.environment, SYSTEM),
                "qsub", "-terse", "-N", submission.name, "-b", "y",
                "-o", f"{files}.out", "-e", f"{files}.err"]
        if submission.queue:
            argv += ["-q", submission.queue]
        if submission.processors > 1:
            argv += ["-pe", self.parallel_environment, str(submission.processors)]
        if submission.memory_mb is not None:
            per_slot = math.ceil(submission.memory_mb / submission.processors)
            argv += ["-l", f"{self.memory_resource}={per_slot}M"]
        if submission.wall_seconds is not None:
            argv += ["-l", f"h_rt={submission.wall_seconds}"]
        if submission.environment:
            argv += ["-v", env_names(submission.environment)]
        if array:
            argv += ["-t", f"1-{submission.count}"]
        return [*argv, *submission.extra_options, submission.script]

    def parse_submit(self, stdout: str, submission: BatchSubmission) -> list[str]:
        """Ids from ``-terse`` output (``1234``, or ``1234.1-10:1`` for an array).

        The verbose form (``Your job-array 1234.1-10:1 ("name") has been
        submitted``) is understood too. Array tasks are ``1234.<task>`` for
        every task of the range. Raises :class:`CEError` when no id was printed.
        """
        for line in lines(stdout):
            match = _TERSE.fullmatch(line) or _VERBOSE.match(line)
            if not match:
                continue
            job, first, last, step = match.groups()
            if first is None:
                return [job]
            return [f"{job}.{task}" for task in range(int(first), int(last) + 1, int(step))]
        raise submit_error(SYSTEM, stdout)

    def status_command(self, job_ids: Sequence[str]) -> list[str]:
        """``qstat -xml``: every pending and running job of the user (qstat cannot select ids).

        The ids are checked all the same: :class:`CEError` for an empty list
        or an id not of the form ``1234`` or ``1234.5``.
        """
        check_job_ids(job_ids, _JOB_ID, SYSTEM)
        return ["qstat", "-xml"]

    def parse_status(self, stdout: str, job_ids: Sequence[str]) -> dict[str, PilotStatus]:
        """Statuses of the requested jobs found in ``qstat -xml`` output.

        Array tasks are matched through the ``tasks`` element (``3``, or a
        range such as ``4-10:1`` for pending tasks). qstat always prints an
        XML document, so empty output or output that is not its XML raises
        :class:`CEError`.
        """
        if not stdout.strip():
            raise CEError(f"{SYSTEM}: qstat -xml printed nothing", system=SYSTEM, stdout=stdout)
        try:
            # qstat's own output on the batch host, not user input; expat resolves no external entities
            root = ET.fromstring(stdout)  # noqa: S314
        except ET.ParseError as exc:
            raise CEError(f"{SYSTEM}: qstat -xml output is not XML ({exc}): {excerpt(stdout)}",
                          system=SYSTEM, stdout=stdout) from exc
        if root.tag != "job_info":
            raise CEError(f"{SYSTEM}: qstat -xml output has root <{root.tag}>, expected <job_info>",
                          system=SYSTEM, stdout=stdout)
        wanted: dict[str, list[tuple[str, int | None]]] = {}
        for job_id in job_ids:
            number, _, suffix = job_id.partition(".")
            wanted.setdefault(number, []).append((job_id, int(suffix) if suffix.isdigit() else None))
        statuses: dict[str, PilotStatus] = {}
        for job in root.iter("job_list"):
            number = (job.findtext("JB_job_number") or "").strip()
            tasks = (job.findtext("tasks") or "").strip()
            for job_id, task in wanted.get(number, ()):
                if (task is None and not tasks) or (task is not None and _in_tasks(task, tasks)):
                    statuses[job_id] = sge_status((job.findtext("state") or "").strip())
        return statuses

    def history_command(self, job_ids: Sequence[str]) -> list[str]:
        """``qacct -j <job> [-t <task>]`` for each id, in one ``sh -c`` loop.

        The loop exits 0: qacct fails for a job not (yet) in the accounting
        file, which is not an error here; such jobs are just omitted.
        """
        ids = check_job_ids(job_ids, _JOB_ID, SYSTEM)
        return ["sh", "-c", _QACCT_LOOP, "sh", *ids]

    def parse_history(self, stdout: str, job_ids: Sequence[str]) -> dict[str, PilotStatus]:
        """Statuses from ``qacct`` records (see :func:`accounting_status`).

        Empty output gives ``{}``; non-empty output without a single record
        holding ``jobnumber``, ``failed`` and ``exit_status`` raises :class:`CEError`.
        """
        wanted = set(job_ids)
        statuses: dict[str, PilotStatus] = {}
        records = 0
        for block in _RECORD_SEPARATOR.split(stdout):
            fields = dict(_key_value(line) for line in lines(block))
            try:
                number, failed = fields["jobnumber"], int(fields["failed"].split()[0])
                exit_status = int(fields["exit_status"].split()[0])
            except (KeyError, ValueError, IndexError):
                continue
            records += 1
            task = fields.get("taskid", "undefined")
            job_id = number if task in ("undefined", "0", "") else f"{number}.{task}"
            if job_id in wanted:
                deleted_by = fields.get("deleted_by", "NONE")
                statuses[job_id] = accounting_status(failed, exit_status, deleted=deleted_by != "NONE")
        if stdout.strip() and not records:
            raise CEError(f"{SYSTEM}: no accounting record in qacct output {excerpt(stdout)}",
                          system=SYSTEM, stdout=stdout)
        return statuses

    def kill_command(self, job_ids: Sequence[str]) -> list[str]:
        """``qdel <ids>`` (``1234.5`` deletes task 5 of array job 1234)."""
        return ["qdel", *check_job_ids(job_ids, _JOB_ID, SYSTEM)]

    def output_files(self, job_id: str, submission_dir: str) -> tuple[str, str]:
        """``<dir>/1234.out`` or, for array task ``1234.5``, ``<dir>/1234.5.out`` (and ``.err``)."""
        base = posixpath.join(submission_dir, job_id)
        return f"{base}.out", f"{base}.err"


def sge_status(state: str) -> PilotStatus:
    """The pilot status of a qstat state string: :data:`JOB_STATES`, else by its letters.

    For a combination not in the table: ``d`` Aborted, ``E`` Failed, a
    running, transferring or suspended letter (``r t s S T N P``) Running,
    ``q``/``w``/``h`` Waiting, anything else Unknown.
    """
    if state in JOB_STATES:
        return JOB_STATES[state]
    letters = set(state)
    if "d" in letters:
        return _S.ABORTED
    if "E" in letters:
        return _S.FAILED
    if letters & set("rtsSTNP"):
        return _S.RUNNING
    if letters & set("qwh"):
        return _S.WAITING
    return _S.UNKNOWN


def accounting_status(failed: int, exit_status: int, *, deleted: bool = False) -> PilotStatus:
    """The pilot status of a qacct record.

    ``deleted`` (Univa/Altair's ``deleted_by``), or ``failed`` 100 with exit
    status 137/143 (killed by a signal, as qdel does): Aborted. ``failed`` 0
    and exit status 0: Done. Anything else (a non-zero exit status, or a
    ``failed`` code such as 37, a limit enforced by qmaster): Failed.
    """
    if deleted or (failed == _FAILED_AFTER_JOB and exit_status in _KILL_EXITS):
        return _S.ABORTED
    if failed == 0 and exit_status == 0:
        return _S.DONE
    return _S.FAILED


def _in_tasks(task: int, tasks: str) -> bool:
    """Whether ``task`` is in a qstat ``tasks`` list such as ``3`` or ``1,4-10:2``."""
    for part in tasks.split(","):
        match = _RANGE.fullmatch(part.strip())
        if not match:
            continue
        first, last, step = int(match.group(1)), match.group(2), int(match.group(3) or 1)
        stop = int(last) if last else first
        if first <= task <= stop and (task - first) % step == 0:
            return True
    return False


def _key_value(line: str) -> tuple[str, str]:
    key, _, value = line.partition(" ")
    return key, value.strip()

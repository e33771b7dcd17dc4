"""IBM Spectrum LSF: ``bsub``, ``bjobs -o`` with fixed columns, ``bkill``.

Several copies are one job array, ``-J "dirac-pilot[1-N]"``; its elements are
``1234[1]`` ... ``1234[N]``. Output goes to ``<output_dir>/%J.out`` (arrays:
``%J.%I.out``), LSF substituting the job id and the array index::

    env DIRAC_PILOT_STAMP=abc bsub -J 'dirac-pilot[1-10]' -o /out/%J.%I.out -e /out/%J.%I.err
        -q long -n 4 -R 'span[hosts=1]' -M 8000MB -W 1440 /path/pilot.sh

``bsub`` copies its own environment into the job by default, which is how
``environment`` reaches it (the ``env`` prefix). Statuses come from ``bjobs
-a -noheader -o "jobid jobindex stat exit_code delimiter='|'" <ids>``, one
``1234|3|RUN|-`` line per job; LSF keeps finished jobs visible for
``CLEAN_PERIOD`` (one hour by default).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence

from dirac_core.errors import CEError
from dirac_core.model.pilot import PilotStatus
from dirac_core.plugins.batch import BatchSubmission, BatchSystem
from dirac_plugins_ce.batch.common import (
    StatusTable,
    check_job_ids,
    check_submission,
    env_words,
    excerpt,
    lines,
    minutes,
    status_table,
    submit_error,
)

__all__ = ["JOB_STATES", "LSF", "lsf_status"]

_S = PilotStatus
SYSTEM = "LSF"

#: ``STAT`` values of bjobs. PSUSP is suspended while still pending (Waiting);
#: USUSP and SSUSP are suspended after the job started (it keeps its slot:
#: Running). EXIT depends on the exit code (see :func:`lsf_status`). ZOMBI is a
#: killed job whose host could not be reached to confirm it (Aborted).
JOB_STATES: StatusTable = status_table({
    "PEND": _S.WAITING,
    "PSUSP": _S.WAITING,
    "WAIT": _S.WAITING,    # chunk job member waiting for its turn
    "PROV": _S.WAITING,    # host being provisioned for the job
    "RUN": _S.RUNNING,
    "USUSP": _S.RUNNING,
    "SSUSP": _S.RUNNING,
    "DONE": _S.DONE,
    "EXIT": _S.FAILED,
    "ZOMBI": _S.ABORTED,
    "UNKWN": _S.UNKNOWN,   # mbatchd lost contact with the execution host
})

_FORMAT = "jobid jobindex stat exit_code delimiter='|'"
_JOB_ID = re.compile(r"\d+(\[\d+\])?")
_SUBMITTED = re.compile(r"Job <(\d+)> is submitted")
_NO_EXIT_CODE = ("", "-")


class LSF(BatchSystem):
    """``bsub``/``bjobs``/``bkill`` of an LSF cluster."""

    def submit_command(self, submission: BatchSubmission) -> list[str]:
        """``bsub``, one job or a job array ``name[1-count]``.

        ``processors`` becomes ``-n N -R "span[hosts=1]"`` (all slots on one
        host), ``memory_mb`` ``-M <N>MB``, ``wall_seconds`` ``-W`` in minutes
        rounded up; ``extra_options`` come just before the script. Raises
        :class:`CEError` for an invalid submission or environment variable name.
        """
        check_submission(submission, SYSTEM)
        array = submission.count > 1
        name = f"{submission.name}[1-{submission.count}]" if array else submission.name
        files = posixpath.join(submission.output_dir, "%J.%I" if array else "%J")
        argv = [*env_words(submission.environment, SYSTEM),
                "bsub", "-J", name, "-o", f"{files}.out", "-e", f"{files}.err"]
        if submission.queue:
            argv += ["-q", submission.queue]
        if submission.processors > 1:
            argv += ["-n", str(submission.processors), "-R", "span[hosts=1]"]
        if submission.memory_mb is not None:
            argv += ["-M", f"{submission.memory_mb}MB"]
        if submission.wall_seconds is not None:
            argv += ["-W", str(minutes(submission.wall_seconds))]
        return [*argv, *submission.extra_options, submission.script]

    def parse_submit(self, stdout: str, submission: BatchSubmission) -> list[str]:
        """The id in ``Job <1234> is submitted to queue <q>.``; arrays give ``1234[1]`` ... ``1234[N]``.

        Raises :class:`CEError` when no such line was printed.
        """
        match = _SUBMITTED.search(stdout)
        if not match:
            raise submit_error(SYSTEM, stdout)
        job = match.group(1)
        if submission.count == 1:
            return [job]
        return [f"{job}[{index}]" for index in range(1, submission.count + 1)]

    def status_command(self, job_ids: Sequence[str]) -> list[str]:
        """``bjobs -a -noheader -o "jobid jobindex stat exit_code delimiter='|'" <ids>``.

        Raises :class:`CEError` for an empty list or an id not of the form ``1234`` or ``1234[5]``.
        """
        ids = check_job_ids(job_ids, _JOB_ID, SYSTEM)
        return ["bjobs", "-a", "-noheader", "-o", _FORMAT, *ids]

    def parse_status(self, stdout: str, job_ids: Sequence[str]) -> dict[str, PilotStatus]:
        """Statuses from ``jobid|jobindex|stat|exit_code`` lines (index 0: not an array element).

        Empty output gives ``{}`` (bjobs reports unknown ids on stderr); a
        line of another shape raises :class:`CEError`.
        """
        wanted = set(job_ids)
        statuses: dict[str, PilotStatus] = {}
        for line in lines(stdout):
            fields = [field.strip() for field in line.split("|")]
            if len(fields) != 4 or not fields[0].isdigit() or not fields[1].isdigit():
                raise CEError(f"{SYSTEM}: unexpected bjobs line {excerpt(line)}, expected "
                              "'jobid|jobindex|stat|exit_code'", system=SYSTEM, stdout=stdout)
            job, index, stat, exit_code = fields
            job_id = job if index == "0" else f"{job}[{index}]"
            if job_id in wanted:
                statuses[job_id] = lsf_status(stat, exit_code)
        return statuses

    def kill_command(self, job_ids: Sequence[str]) -> list[str]:
        """``bkill <ids>``."""
        return ["bkill", *check_job_ids(job_ids, _JOB_ID, SYSTEM)]

    def output_files(self, job_id: str, submission_dir: str) -> tuple[str, str]:
        """``<dir>/1234.out`` for a job, ``<dir>/1234.5.out`` for element ``1234[5]`` (and ``.err``)."""
        base = posixpath.join(submission_dir, job_id.replace("[", ".").rstrip("]"))
        return f"{base}.out", f"{base}.err"


def lsf_status(stat: str, exit_code: str) -> PilotStatus:
    """The pilot status of a bjobs ``STAT``; unknown values give Unknown.

    EXIT without an exit code means the job never started (killed while
    pending, or it could not be dispatched): Aborted. EXIT with a code is Failed.
    """
    if stat == "EXIT" and exit_code in _NO_EXIT_CODE:
        return _S.ABORTED
    return JOB_STATES.get(stat, _S.UNKNOWN)

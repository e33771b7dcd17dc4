"""OAR: ``oarsub``, ``oarstat --json --full``, ``oardel``.

OAR substitutes ``%jobid%`` in the output paths and runs the job's command
through a shell on the first node, without the submitter's environment, so
``environment`` is part of that command::

    oarsub -n dirac-pilot -O /out/%jobid%.out -E /out/%jobid%.err -q default
        -l /nodes=1/core=4,walltime=24:00:00 --array 10
        'env DIRAC_PILOT_STAMP=abc /path/pilot.sh'

``oarsub`` prints one ``OAR_JOB_ID=<id>`` line per job (an array adds an
``OAR_ARRAY_ID=`` line). ``oarstat -j <id>`` answers for finished jobs too
(OAR keeps them in its database), so there is no separate history command.
``memory_mb`` is not translated: OAR has no standard memory request (sites
expose memory as resource properties, to select with ``extra_options`` such
as ``-p "memnode >= 8000"``).
"""

from __future__ import annotations

import json
import logging
import posixpath
import re
from collections.abc import Mapping, Sequence
from typing import Any

from dirac_core.errors import CEError
from dirac_core.model.pilot import PilotStatus
from dirac_core.plugins.batch import BatchSubmission, BatchSystem
from dirac_plugins_ce.batch.common import (
    StatusTable,
    check_job_ids,
    check_submission,
    clock,
    env_words,
    excerpt,
    shell_join,
    status_table,
    submit_error,
    wait_status,
)

__all__ = ["JOB_STATES", "OAR", "oar_status"]

log = logging.getLogger(__name__)

_S = PilotStatus
SYSTEM = "OAR"

#: OAR job states. Launching is still before the job's command runs (Waiting);
#: Suspended and Resuming jobs have started and keep their nodes (Running).
#: Terminated and Error are refined by the exit code (see :func:`oar_status`).
JOB_STATES: StatusTable = status_table({
    "Waiting": _S.WAITING,
    "Hold": _S.WAITING,
    "toLaunch": _S.WAITING,
    "toAckReservation": _S.WAITING,
    "Launching": _S.WAITING,
    "Running": _S.RUNNING,
    "Finishing": _S.RUNNING,
    "Suspended": _S.RUNNING,
    "Resuming": _S.RUNNING,
    "Terminated": _S.DONE,
    "toError": _S.FAILED,
    "Error": _S.FAILED,
})

_JOB_ID = re.compile(r"\d+")
_SUBMITTED = re.compile(r"^OAR_JOB_ID=(\d+)\s*$", re.MULTILINE)


class OAR(BatchSystem):
    """``oarsub``/``oarstat``/``oardel`` of an OAR cluster."""

    def submit_command(self, submission: BatchSubmission) -> list[str]:
        """``oarsub``, one job or ``--array count``.

        ``processors`` becomes ``-l /nodes=1/core=N`` and ``wall_seconds``
        ``walltime=H:MM:SS`` in the same ``-l``; ``memory_mb`` is ignored (see
        the module docstring); ``extra_options`` come just before the command.
        Raises :class:`CEError` for an invalid submission or environment variable name.
        """
        check_submission(submission, SYSTEM)
        command = shell_join([*env_words(submission.environment, SYSTEM), submission.script])
        files = posixpath.join(submission.output_dir, "%jobid%")
        argv = ["oarsub", "-n", submission.name, "-O", f"{files}.out", "-E", f"{files}.err"]
        if submission.queue:
            argv += ["-q", submission.queue]
        resources = []
        if submission.processors > 1:
            resources.append(f"/nodes=1/core={submission.processors}")
        if submission.wall_seconds is not None:
            resources.append(f"walltime={clock(submission.wall_seconds)}")
        if resources:
            argv += ["-l", ",".join(resources)]
        if submission.memory_mb is not None:
            log.debug("OAR has no standard memory request: memory_mb=%d not passed", submission.memory_mb)
        if submission.count > 1:
            argv += ["--array", str(submission.count)]
        return [*argv, *submission.extra_options, command]

    def parse_submit(self, stdout: str, submission: BatchSubmission) -> list[str]:
        """The ids of every ``OAR_JOB_ID=<id>`` line (admission-rule messages are skipped).

        Raises :class:`CEError` when there is none.
        """
        ids = _SUBMITTED.findall(stdout)
        if not ids:
            raise submit_error(SYSTEM, stdout)
        if len(ids) != submission.count:
            log.warning("oarsub created %d job(s) where %d were asked", len(ids), submission.count)
        return ids

    def status_command(self, job_ids: Sequence[str]) -> list[str]:
        """``oarstat --json --full -j <id> -j <id> ...``.

        Raises :class:`CEError` for an empty list or an id that is not a number.
        """
        ids = check_job_ids(job_ids, _JOB_ID, SYSTEM)
        return ["oarstat", "--json", "--full", *(word for job_id in ids for word in ("-j", job_id))]

    def parse_status(self, stdout: str, job_ids: Sequence[str]) -> dict[str, PilotStatus]:
        """Statuses from oarstat's JSON object ``{"<id>": {"state": ..., "exit_code": ...}}``.

        ``{}`` means OAR knows none of the jobs. Empty output, output that is
        not a JSON object, or a job without a ``state`` raises :class:`CEError`.
        """
        if not stdout.strip():
            raise CEError(f"{SYSTEM}: oarstat printed nothing, expected a JSON object",
                          system=SYSTEM, stdout=stdout)
        try:
            jobs = json.loads(stdout)
        except ValueError as exc:
            raise CEError(f"{SYSTEM}: oarstat output is not JSON ({exc}): {excerpt(stdout)}",
                          system=SYSTEM, stdout=stdout) from exc
        if not isinstance(jobs, dict):
            raise CEError(f"{SYSTEM}: oarstat output is not a JSON object: {excerpt(stdout)}",
                          system=SYSTEM, stdout=stdout)
        wanted = set(job_ids)
        statuses: dict[str, PilotStatus] = {}
        for key, job in jobs.items():
            if str(key) not in wanted:
                continue
            state = _field(job, "state")
            if not isinstance(state, str):
                raise CEError(f"{SYSTEM}: oarstat gives job {key} no state: {excerpt(json.dumps(job))}",
                              system=SYSTEM, stdout=stdout)
            statuses[str(key)] = oar_status(state, _exit_code(_field(job, "exit_code")))
        return statuses

    def kill_command(self, job_ids: Sequence[str]) -> list[str]:
        """``oardel <ids>``; the jobs end in state Error."""
        return ["oardel", *check_job_ids(job_ids, _JOB_ID, SYSTEM)]

    def output_files(self, job_id: str, submission_dir: str) -> tuple[str, str]:
        """``<dir>/<id>.out`` and ``.err``, as ``-O``/``-E`` name them."""
        base = posixpath.join(submission_dir, job_id)
        return f"{base}.out", f"{base}.err"


def oar_status(state: str, exit_code: int | None) -> PilotStatus:
    """The pilot status of an OAR state; unknown states give Unknown.

    ``exit_code`` is OAR's raw wait status (``256`` is ``exit 1``).
    Terminated is Done unless the command exited non-zero or was killed by a
    signal (Failed). Error/toError is Failed when the command left an exit
    code, Aborted when it has none (deleted with oardel, or never launched).
    """
    if state == "Terminated" and exit_code is not None and wait_status(exit_code) != (0, 0):
        return _S.FAILED
    if state in ("Error", "toError") and exit_code is None:
        return _S.ABORTED
    return JOB_STATES.get(state, _S.UNKNOWN)


def _field(job: Any, name: str) -> Any:
    # OAR 2 spells some keys with a capital (``State`` in some versions): accept both
    if not isinstance(job, Mapping):
        return None
    return job.get(name, job.get(name.capitalize()))


def _exit_code(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        # the text form is "256 (1,0,0)": the raw status, then (exit value, signal, core dumped)
        words = value.split()
        if words and words[0].lstrip("-").isdigit():
            return int(words[0])
    return None

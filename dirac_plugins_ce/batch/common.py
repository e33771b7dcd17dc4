"""What the batch-system drivers share: checks, option values and parsing helpers.

Nothing here runs a command. The helpers raise :class:`~dirac_core.errors.CEError`
with messages that name the batch system and quote (a bounded excerpt of)
the output that could not be understood, so that an operator reading a
pilot-submission failure sees what the batch system actually said.

Drivers other than HTCondor assume that ``submission.script`` and
``submission.output_dir`` are on a file system the worker nodes share with
the machine the commands run on (as DIRAC's batch plugins do): the job
writes its output there directly.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType

from dirac_core.errors import CEError
from dirac_core.model.pilot import PilotStatus
from dirac_core.plugins.batch import BatchSubmission

__all__ = [
    "StatusTable",
    "check_job_ids",
    "check_submission",
    "clock",
    "env_names",
    "env_words",
    "excerpt",
    "lines",
    "minutes",
    "pipe_to",
    "shell_join",
    "status_table",
    "submit_error",
    "wait_status",
]

#: A batch system's own state names mapped to pilot statuses (read-only).
StatusTable = Mapping[str, PilotStatus]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_EXCERPT_CHARS = 300

# Runs argv ("$2"...) with the text "$1" on its standard input. The contract lets a
# driver return only an argument vector, so a command that reads a script on stdin
# (qsub) is wrapped this way; the text is an argument, never parsed by this shell.
_PIPE = 'printf "%s\\n" "$1" | (shift; exec "$@")'


def status_table(entries: Mapping[str, PilotStatus]) -> StatusTable:
    """A read-only copy of ``entries``, for module-level status tables."""
    return MappingProxyType(dict(entries))


def excerpt(text: str) -> str:
    """``text`` stripped and cut to a few hundred characters, quoted for an error message."""
    text = text.strip()
    if len(text) > _EXCERPT_CHARS:
        text = text[:_EXCERPT_CHARS] + "..."
    return repr(text)


def submit_error(system: str, stdout: str) -> CEError:
    """The error for a submit command whose output names no job."""
    if not stdout.strip():
        return CEError(f"{system}: the submit command printed nothing, expected job ids",
                       system=system, stdout=stdout)
    return CEError(f"{system}: no job id in the submit command's output {excerpt(stdout)}",
                   system=system, stdout=stdout)


def lines(stdout: str) -> list[str]:
    """The non-blank lines of ``stdout``, stripped."""
    return [line.strip() for line in stdout.splitlines() if line.strip()]


def check_submission(submission: BatchSubmission, system: str) -> None:
    """Raise :class:`CEError` for counts and resources no batch system accepts.

    ``count`` and ``processors`` must be at least 1, ``memory_mb`` and
    ``wall_seconds`` positive when given, and ``script`` and ``output_dir``
    non-empty and free of newlines (they end up in command lines and scripts).
    """
    problems = []
    if submission.count < 1:
        problems.append(f"count must be at least 1, got {submission.count}")
    if submission.processors < 1:
        problems.append(f"processors must be at least 1, got {submission.processors}")
    if submission.memory_mb is not None and submission.memory_mb < 1:
        problems.append(f"memory_mb must be positive, got {submission.memory_mb}")
    if submission.wall_seconds is not None and submission.wall_seconds < 1:
        problems.append(f"wall_seconds must be positive, got {submission.wall_seconds}")
    for name, value in (("script", submission.script), ("output_dir", submission.output_dir),
                        ("name", submission.name)):
        if not value or "\n" in value or "\0" in value:
            problems.append(f"{name} must be a non-empty single line, got {value!r}")
    if problems:
        raise CEError(f"{system}: invalid submission: {'; '.join(problems)}",
                      system=system, problems=problems)


def check_job_ids(job_ids: Sequence[str], pattern: re.Pattern[str], system: str) -> list[str]:
    """``job_ids`` as a list; :class:`CEError` when it is empty or an id does not match ``pattern``.

    The commands take the ids as arguments (and sometimes inside expressions),
    so an id that is not of the batch system's form is refused rather than
    passed on.
    """
    ids = list(job_ids)
    if not ids:
        raise CEError(f"{system}: no job ids given", system=system)
    bad = [job_id for job_id in ids if not pattern.fullmatch(job_id)]
    if bad:
        raise CEError(f"{system}: not job ids of this batch system: {bad}", system=system, job_ids=bad)
    return ids


def env_words(environment: Mapping[str, str], system: str) -> list[str]:
    """``["env", "NAME=VALUE", ...]`` to prefix a command with, or ``[]`` when there is nothing.

    Raises :class:`CEError` for a name a shell could not export or a value
    holding a NUL byte.
    """
    for name, value in environment.items():
        if not _ENV_NAME.fullmatch(name):
            raise CEError(f"{system}: invalid environment variable name {name!r}", system=system)
        if "\0" in value:
            raise CEError(f"{system}: environment variable {name} contains a NUL byte", system=system)
    if not environment:
        return []
    return ["env", *(f"{name}={value}" for name, value in environment.items())]


def env_names(environment: Mapping[str, str]) -> str:
    """The variable names joined by commas (for ``qsub -v NAME,...``, values taken from the caller)."""
    return ",".join(environment)


def clock(seconds: int) -> str:
    """``seconds`` as ``H:MM:SS`` (hours unbounded), the wall-time format of PBS and OAR."""
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def minutes(seconds: int) -> int:
    """``seconds`` rounded up to whole minutes (a limit is never shortened)."""
    return math.ceil(seconds / 60)


def pipe_to(text: str, argv: Iterable[str]) -> list[str]:
    """A command that runs ``argv`` with ``text`` (plus a newline) on its standard input.

    Neither ``text`` nor ``argv`` is parsed by a shell: both travel as
    arguments of ``sh -c``.
    """
    return ["sh", "-c", _PIPE, "sh", text, *argv]


def wait_status(code: int) -> tuple[int, int]:
    """``(exit value, signal)`` of a raw POSIX wait status (``256`` is ``exit 1``)."""
    return (code >> 8) & 0xFF, code & 0x7F


def shell_join(words: Iterable[str]) -> str:
    """``words`` quoted for a POSIX shell command line."""
    return shlex.join(list(words))

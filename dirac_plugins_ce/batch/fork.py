"""Fork: pilots as plain background processes of the machine the transport reaches.

There is no batch system: the commands are small POSIX ``sh`` scripts.

Submission starts ``count`` copies of a wrapper, each in its own session
(``setsid``, so that it outlives the transport's connection, and ignoring
SIGHUP like ``nohup``). Each wrapper prints its PID, sends its output to
``<output_dir>/<pid>.out`` and ``.err``, runs the script, and when the script
ends writes ``<output_dir>/<pid>.exit`` (atomically, through a rename)
holding the exit status, or ``killed`` when it was stopped by
:meth:`Fork.kill_command`. A job id is ``<pid>@<output_dir>``, so that the
status and kill commands, which receive only ids, find the exit files.

Status: ``<id> RUNNING`` while the wrapper is alive (``ps``; a zombie counts
as ended), else DONE (exit status 0), FAILED (any other status) or ABORTED
(killed) from the exit file, else UNKNOWN (the wrapper vanished without
writing one, e.g. killed with SIGKILL or the machine rebooted).

Kill: SIGTERM to the wrapper, which records ``killed`` and passes SIGTERM to
every process of its session's process group (the script and its children),
then waits for the script to end before writing the exit file. A process is
only signalled if it has no exit file yet and ``ps`` shows it is a wrapper,
so a PID reused by an unrelated process is never killed.

``queue``, ``processors``, ``memory_mb``, ``wall_seconds`` and
``extra_options`` mean nothing here and are ignored.
"""

from __future__ import annotations

import logging
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
    status_table,
    submit_error,
)

__all__ = ["STATES", "Fork"]

log = logging.getLogger(__name__)

_S = PilotStatus
SYSTEM = "fork"

#: The words the status script prints.
STATES: StatusTable = status_table({
    "RUNNING": _S.RUNNING,
    "DONE": _S.DONE,
    "FAILED": _S.FAILED,
    "ABORTED": _S.ABORTED,
    "UNKNOWN": _S.UNKNOWN,
})

#: First line of the wrapper, so that ``ps -o args`` shows it even when it cuts long lines:
#: the kill script signals only processes showing it.
_MARK = "dirac-fork-wrapper"

# $1 script, $2 output directory. The TERM trap is set before the script starts, so
# the script gets the default action back (a caught signal is reset in a child);
# HUP is ignored for the script too, as nohup does.
_WRAPPER = f"""\
: {_MARK}
echo $$
exec </dev/null >"$2/$$.out" 2>"$2/$$.err"
trap '' HUP
killed=
trap 'killed=1; trap "" TERM; kill -TERM 0' TERM
"$1" &
child=$!
while :; do
  wait "$child"; rc=$?
  if [ -z "$killed" ] || ! kill -0 "$child" 2>/dev/null; then break; fi
done
if [ -n "$killed" ]; then rc=killed; fi
echo "$rc" >"$2/$$.exit.tmp" && mv -f "$2/$$.exit.tmp" "$2/$$.exit"
"""

# $1 script, $2 output directory, $3 count, $4 wrapper. Each wrapper prints its own
# PID before it redirects its output, so the PIDs reach this command's stdout.
_LAUNCH = """\
command -v setsid >/dev/null 2>&1 || { echo "setsid: command not found" >&2; exit 127; }
mkdir -p -- "$2" || exit 1
i=0
while [ "$i" -lt "$3" ]; do
  setsid sh -c "$4" dirac-fork-wrapper "$1" "$2" &
  i=$((i + 1))
done
"""

# "alive" is decided before the exit file is read: a wrapper writes the file before
# it exits, so "not alive" and "no file" together mean it died without writing it.
_STATUS = """\
for id do
  pid=${id%%@*}; dir=${id#*@}
  alive=
  case $(ps -o stat= -p "$pid" 2>/dev/null) in
    ""|*Z*) ;;
    *) alive=1 ;;
  esac
  if [ -r "$dir/$pid.exit" ]; then
    read -r rc <"$dir/$pid.exit"
    case $rc in
      0) state=DONE ;;
      killed) state=ABORTED ;;
      *) state=FAILED ;;
    esac
  elif [ -n "$alive" ]; then
    state=RUNNING
  else
    state=UNKNOWN
  fi
  printf '%s %s\\n' "$id" "$state"
done
"""

_KILL = f"""\
rc=0
for id do
  pid=${{id%%@*}}; dir=${{id#*@}}
  [ -e "$dir/$pid.exit" ] && continue
  case $(ps -o args= -p "$pid" 2>/dev/null) in
    *{_MARK}*) kill -TERM "$pid" || rc=1 ;;
  esac
done
exit $rc
"""

_JOB_ID = re.compile(r"([2-9]|[1-9][0-9]+)@.+")
_PID = re.compile(r"[0-9]+")


class Fork(BatchSystem):
    """Background processes started by a shell, watched with ``ps`` and exit files."""

    def submit_command(self, submission: BatchSubmission) -> list[str]:
        """``sh -c <launcher>``: ``count`` wrappers in new sessions, one PID printed per line.

        The launcher creates ``output_dir`` if needed and exits 127 when
        ``setsid`` is missing. ``environment`` is given to every copy (an
        ``env`` prefix). Raises :class:`CEError` for an invalid submission or
        environment variable name.
        """
        check_submission(submission, SYSTEM)
        ignored = [name for name, value in (
            ("queue", submission.queue), ("memory_mb", submission.memory_mb),
            ("wall_seconds", submission.wall_seconds), ("extra_options", submission.extra_options),
        ) if value]
        if ignored or submission.processors > 1:
            log.debug("fork ignores %s", ", ".join(ignored) or "processors")
        return [*env_words(submission.environment, SYSTEM), "sh", "-c", _LAUNCH, "dirac-fork",
                submission.script, submission.output_dir, str(submission.count), _WRAPPER]

    def parse_submit(self, stdout: str, submission: BatchSubmission) -> list[str]:
        """``<pid>@<output_dir>`` for every PID line; other lines are logged and skipped.

        Raises :class:`CEError` when no PID was printed.
        """
        ids = []
        for line in lines(stdout):
            if _PID.fullmatch(line):
                ids.append(f"{int(line)}@{submission.output_dir}")
            else:
                log.warning("fork launcher printed an unexpected line %r", line)
        if not ids:
            raise submit_error(SYSTEM, stdout)
        return ids

    def status_command(self, job_ids: Sequence[str]) -> list[str]:
        """``sh -c <status script> <ids>``, printing ``<id> <STATE>`` per id.

        Raises :class:`CEError` for an empty list or an id not of the form
        ``<pid>@<dir>`` with a PID above 1.
        """
        return ["sh", "-c", _STATUS, "dirac-fork", *check_job_ids(job_ids, _JOB_ID, SYSTEM)]

    def parse_status(self, stdout: str, job_ids: Sequence[str]) -> dict[str, PilotStatus]:
        """Statuses from ``<id> <STATE>`` lines.

        The script prints a line for every id it is given, so empty output
        or a line whose last word is not a known state raises :class:`CEError`.
        """
        if not stdout.strip():
            raise CEError(f"{SYSTEM}: the status script printed nothing", system=SYSTEM, stdout=stdout)
        wanted = set(job_ids)
        statuses: dict[str, PilotStatus] = {}
        for line in stdout.splitlines():
            if not line.strip():
                continue
            job_id, _, state = line.rstrip().rpartition(" ")
            if not job_id or state not in STATES:
                raise CEError(f"{SYSTEM}: unexpected status line {excerpt(line)}, expected "
                              f"'<pid>@<dir> {'|'.join(STATES)}'", system=SYSTEM, stdout=stdout)
            if job_id in wanted:
                statuses[job_id] = STATES[state]
        return statuses

    def kill_command(self, job_ids: Sequence[str]) -> list[str]:
        """``sh -c <kill script> <ids>``: SIGTERM to each wrapper still running.

        The script exits 1 if a ``kill`` failed. Raises :class:`CEError` for
        an empty list or an invalid id (as :meth:`status_command`).
        """
        return ["sh", "-c", _KILL, "dirac-fork", *check_job_ids(job_ids, _JOB_ID, SYSTEM)]

    def output_files(self, job_id: str, submission_dir: str) -> tuple[str, str]:
        """``<submission_dir>/<pid>.out`` and ``.err``."""
        base = posixpath.join(submission_dir, job_id.split("@", 1)[0])
        return f"{base}.out", f"{base}.err"

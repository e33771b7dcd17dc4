"""Run batch commands and move files on this machine."""

from __future__ import annotations

import logging
import os
import shlex
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from dirac_core.errors import CEError, NotFound
from dirac_core.plugins.transport import CommandResult, Transport
from dirac_plugins_ce.transports._environment import check_environment

__all__ = ["LocalTransport"]

log = logging.getLogger(__name__)

#: Exit codes a POSIX shell reports for a command it cannot find or cannot execute,
#: used here too so that a missing command looks the same locally and over SSH.
_NOT_FOUND = 127
_NOT_EXECUTABLE = 126


class LocalTransport(Transport):
    """Run commands as child processes of this one, and read and write local files.

    Commands are argument vectors run without a shell. ``environment`` is added
    to this process's environment for every command (this process's own
    environment is never changed). Output is decoded as UTF-8, undecodable
    bytes replaced.
    """

    def __init__(self, *, environment: Mapping[str, str] | None = None) -> None:
        """Raises ``ValueError`` for an environment variable name a shell could not export."""
        self._environment = check_environment(environment)

    @property
    def environment(self) -> dict[str, str]:
        """The variables added to every command's environment."""
        return dict(self._environment)

    def run(self, argv: Sequence[str], *, stdin: str | None = None,
            timeout: float = 120) -> CommandResult:
        """Run ``argv`` and wait at most ``timeout`` seconds for it.

        A command that cannot be found returns exit code 127 and one that
        cannot be executed 126, as a shell would. Raises :class:`CEError`
        naming the command and the timeout when it does not finish in time
        (the command is killed), and ``ValueError`` for an empty ``argv``.
        """
        args = tuple(argv)
        if not args:
            raise ValueError("cannot run an empty command")
        env = {**os.environ, **self._environment} if self._environment else None
        log.debug("running %s", shlex.join(args))
        try:
            done = subprocess.run(args, input=stdin, capture_output=True, text=True, encoding="utf-8",
                                  errors="replace", timeout=timeout, env=env, check=False,
                                  stdin=None if stdin is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired as exc:
            raise CEError(f"{shlex.join(args)} did not finish within {timeout} s",
                          command=shlex.join(args), timeout=timeout) from exc
        except FileNotFoundError as exc:
            return CommandResult(argv=args, returncode=_NOT_FOUND, stdout="",
                                 stderr=f"{args[0]}: command not found ({exc.strerror})")
        except PermissionError as exc:
            return CommandResult(argv=args, returncode=_NOT_EXECUTABLE, stdout="",
                                 stderr=f"{args[0]}: cannot execute ({exc.strerror})")
        return CommandResult(argv=args, returncode=done.returncode, stdout=done.stdout, stderr=done.stderr)

    def write_file(self, path: str, content: str, *, mode: int = 0o644) -> None:
        """Create or replace ``path`` atomically with ``content`` (UTF-8), parents created.

        Readers see the old or the new content, never a partial file. Raises
        :class:`CEError` when the file or a parent cannot be written.
        """
        target = Path(path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write(content)
                os.chmod(tmp_name, mode)
                os.replace(tmp_name, target)
            except BaseException:
                Path(tmp_name).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise CEError(f"cannot write {path}: {exc.strerror or exc}", path=path) from exc

    def read_file(self, path: str) -> str:
        """The text of ``path`` (UTF-8, undecodable bytes replaced).

        Raises :class:`NotFound` when it does not exist and :class:`CEError`
        when it cannot be read (a directory, no permission).
        """
        try:
            return Path(path).read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError as exc:
            raise NotFound(f"no file {path}", path=path) from exc
        except OSError as exc:
            raise CEError(f"cannot read {path}: {exc.strerror or exc}", path=path) from exc

    def __repr__(self) -> str:
        return f"LocalTransport(environment={sorted(self._environment)})"

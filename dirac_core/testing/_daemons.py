"""Starting, waiting for and stopping the real daemons that live tests use.

Shared by :mod:`dirac_core.testing.slurm` and :mod:`dirac_core.testing.sshd`.
Every daemon runs in the foreground as a child of this process, so it is
stopped by its own process id and never by name.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

__all__ = ["ComponentUnavailable", "Daemon", "free_port", "require_binaries", "run_checked", "wait_until"]


class ComponentUnavailable(RuntimeError):
    """A real component cannot be provided here (binary missing, daemon would not start)."""


def require_binaries(names: Sequence[str]) -> dict[str, str]:
    """The full path of each program in ``names``, found on ``PATH`` or in ``/usr/sbin``.

    Raises :class:`ComponentUnavailable` listing every missing one.
    """
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    found = {name: shutil.which(name, path=search) for name in names}
    missing = sorted(name for name, path in found.items() if path is None)
    if missing:
        raise ComponentUnavailable(f"missing programs: {', '.join(missing)}")
    return {name: path for name, path in found.items() if path is not None}


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], *, timeout: float, what: str,
               alive: Callable[[], str | None] | None = None, interval: float = 0.2) -> None:
    """Poll ``check`` until it is true; :class:`ComponentUnavailable` after ``timeout`` seconds.

    ``alive`` is asked between polls and returns why waiting is pointless
    (a daemon died), or None to go on.
    """
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return
        if alive is not None:
            dead = alive()
            if dead is not None:
                raise ComponentUnavailable(f"{what}: {dead}")
        if time.monotonic() >= deadline:
            raise ComponentUnavailable(f"{what}: not ready after {timeout} s")
        time.sleep(interval)


def run_checked(argv: Sequence[str], *, env: Mapping[str, str] | None = None,
                timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run a set-up command; :class:`ComponentUnavailable` with its output if it fails."""
    try:
        done = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False,
                              env=dict(env) if env is not None else None)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ComponentUnavailable(f"{argv[0]} failed: {exc}") from exc
    if done.returncode != 0:
        raise ComponentUnavailable(f"{' '.join(argv)} exited with {done.returncode}: "
                                   f"{(done.stderr or done.stdout).strip()[-2000:]}")
    return done


class Daemon:
    """One foreground daemon, its output going to ``log_path``."""

    def __init__(self, name: str, argv: Sequence[str], *, log_path: Path,
                 env: Mapping[str, str] | None = None) -> None:
        """Start it; :class:`ComponentUnavailable` when it cannot be executed."""
        self.name = name
        self.log_path = log_path
        with log_path.open("ab") as log:
            try:
                self.process = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True,
                                                env=dict(env) if env is not None else None)
            except OSError as exc:
                raise ComponentUnavailable(f"cannot start {name}: {exc}") from exc

    def dead(self) -> str | None:
        """Why the daemon is no longer running (with the end of its log), or None if it runs."""
        code = self.process.poll()
        if code is None:
            return None
        return f"{self.name} exited with {code}: {self.log_tail()}"

    def log_tail(self, size: int = 1500) -> str:
        """The last ``size`` characters of the daemon's log."""
        try:
            return self.log_path.read_text(errors="replace")[-size:].strip()
        except OSError:
            return "(no log)"

    def stop(self, *, timeout: float = 10) -> None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; waits for the process to end."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()
            self.process.wait(timeout=timeout)

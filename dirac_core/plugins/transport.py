"""The transport contract: how batch commands reach the machine that has them.

A transport runs a command (an argument vector, never a shell string) and
copies files, on this machine (``local``) or on a login node (``ssh``).
Failing to reach the machine raises :class:`~dirac_core.errors.CEUnreachable`;
a command that runs and fails is *not* an error of the transport: its
:class:`CommandResult` says so and :meth:`CommandResult.check` raises
:class:`~dirac_core.errors.CEError` carrying the command's stderr.
"""

from __future__ import annotations

import shlex
from abc import abstractmethod
from collections.abc import Sequence

from attrs import frozen

from dirac_core.errors import CEError
from dirac_core.plugins.driver import Driver

__all__ = ["CommandResult", "Transport"]


@frozen(kw_only=True)
class CommandResult:
    """What a command printed and how it ended."""

    argv: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        """The command exited with status 0."""
        return self.returncode == 0

    def check(self) -> CommandResult:
        """Return ``self``, or raise :class:`CEError` with the command, exit code and stderr."""
        if self.returncode != 0:
            raise CEError(f"{shlex.join(self.argv)} exited with {self.returncode}: "
                          f"{self.stderr.strip() or self.stdout.strip()}",
                          command=shlex.join(self.argv), returncode=self.returncode,
                          stderr=self.stderr)
        return self


class Transport(Driver):
    """Run commands and move files where the batch system is."""

    @abstractmethod
    def run(self, argv: Sequence[str], *, stdin: str | None = None,
            timeout: float = 120) -> CommandResult:
        """Run ``argv``; ``CEUnreachable`` when the machine cannot be reached or ``timeout`` passes."""

    @abstractmethod
    def write_file(self, path: str, content: str, *, mode: int = 0o644) -> None:
        """Create or replace ``path`` (parents created) with ``content``."""

    @abstractmethod
    def read_file(self, path: str) -> str:
        """The text of ``path``; ``NotFound`` when it does not exist."""

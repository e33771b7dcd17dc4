"""The batch-system contract: commands to build and outputs to parse, no I/O.

A batch system driver never runs anything itself: it turns a submission into
an argument vector, and what the command printed into references and
statuses. The batch computing element runs the vectors through a
:class:`~dirac_core.plugins.transport.Transport`, so every batch system works
locally and over SSH alike, and every parser is tested on recorded outputs.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence

from attrs import field, frozen

from dirac_core.model.pilot import PilotStatus
from dirac_core.plugins.driver import Driver

__all__ = ["BatchSubmission", "BatchSystem"]


@frozen(kw_only=True)
class BatchSubmission:
    """``count`` copies of one script, already written on the batch machine.

    ``output_dir`` receives each job's stdout and stderr, named by the batch
    system's own job id (see :meth:`BatchSystem.output_files`).
    """

    script: str
    output_dir: str
    count: int = 1
    queue: str | None = None
    name: str = "dirac-pilot"
    processors: int = 1
    memory_mb: int | None = None
    wall_seconds: int | None = None
    extra_options: tuple[str, ...] = ()
    environment: Mapping[str, str] = field(factory=dict)


class BatchSystem(Driver):
    """One batch system's command line: submit, status, kill, where the output goes."""

    @abstractmethod
    def submit_command(self, submission: BatchSubmission) -> list[str]:
        """The command that submits ``submission.count`` jobs."""

    @abstractmethod
    def parse_submit(self, stdout: str, submission: BatchSubmission) -> list[str]:
        """The batch job ids the submit command printed (``CEError`` if there are none)."""

    @abstractmethod
    def status_command(self, job_ids: Sequence[str]) -> list[str]:
        """The command that reports the status of ``job_ids``."""

    @abstractmethod
    def parse_status(self, stdout: str, job_ids: Sequence[str]) -> dict[str, PilotStatus]:
        """Statuses of the jobs the output mentions; a job it omits is left out."""

    def history_command(self, job_ids: Sequence[str]) -> list[str] | None:
        """A command asking the accounting of finished jobs (``sacct``), or None."""
        return None

    def parse_history(self, stdout: str, job_ids: Sequence[str]) -> dict[str, PilotStatus]:
        """Statuses from :meth:`history_command`'s output."""
        return {}

    @abstractmethod
    def kill_command(self, job_ids: Sequence[str]) -> list[str]:
        """The command that cancels ``job_ids``."""

    @abstractmethod
    def output_files(self, job_id: str, submission_dir: str) -> tuple[str, str]:
        """The paths of a job's stdout and stderr under ``submission_dir``."""

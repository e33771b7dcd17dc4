"""The transformation system's periodic tasks, each one cycle of :class:`TransformationSystem`.

:func:`transformation_tasks` gives them with DIRAC's agent intervals (2 minutes; the search for
lost reservations every 30 minutes, cleaning every hour); the scheduler runs each under its lease, so several
replicas run each once per interval. A test or a notebook calls ``run_once`` directly.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:
    from dirac_core.transformation.system import TransformationSystem

__all__ = ["CleaningTask", "ExtensionTask", "InputQueryTask", "MonitorTask", "ReservationTask", "SplitTask",
           "SubmitTask", "transformation_tasks"]

_CYCLE = timedelta(minutes=2)


@attrs.frozen
class SplitTask:
    """Groups the Unused files of every Active, Completing and Flush transformation into tasks."""

    system: TransformationSystem
    name: str = "transformation.split"
    interval: timedelta = _CYCLE

    def run_once(self) -> dict[int, Any]:
        """One splitting cycle; per transformation what it did."""
        return self.system.split()


@attrs.frozen
class SubmitTask:
    """Submits the Created tasks of the Automatic transformations as jobs or requests."""

    system: TransformationSystem
    name: str = "transformation.submit"
    interval: timedelta = _CYCLE

    def run_once(self) -> dict[int, Any]:
        """One submission cycle; per transformation what it submitted."""
        return self.system.submit_tasks()


@attrs.frozen
class MonitorTask:
    """Brings tasks in line with their jobs and requests, and files with their tasks."""

    system: TransformationSystem
    name: str = "transformation.monitor"
    interval: timedelta = _CYCLE

    def run_once(self) -> dict[int, Any]:
        """One monitoring cycle; per transformation how many tasks moved to each status."""
        return self.system.monitor_tasks()


@attrs.frozen
class InputQueryTask:
    """Runs every Active transformation's input query and attaches the new files."""

    system: TransformationSystem
    name: str = "transformation.input_queries"
    interval: timedelta = _CYCLE

    def run_once(self) -> dict[int, int]:
        """One scan; per transformation how many files it added."""
        return self.system.scan_input_queries()


@attrs.frozen
class ReservationTask:
    """Finds tasks a task manager reserved and lost (Reserved for an hour): Submitted if their
    job or request exists, Created again otherwise."""

    system: TransformationSystem
    name: str = "transformation.reservations"
    interval: timedelta = timedelta(minutes=30)

    def run_once(self) -> dict[int, tuple[int, int]]:
        """One search; per transformation (found, put back)."""
        return self.system.recover_reserved()


@attrs.frozen
class CleaningTask:
    """DIRAC's TransformationCleaningAgent: Cleaning transformations lose their jobs, requests and
    outputs (then Cleaned), RemovingFiles ones their outputs (then Completed), and Completed ones
    idle for ``archive_after`` are archived."""

    system: TransformationSystem
    name: str = "transformation.cleaning"
    interval: timedelta = timedelta(hours=1)

    def run_once(self) -> dict[int, Any]:
        """One cleaning cycle; per transformation acted on what was done."""
        return self.system.clean_transformations()


@attrs.frozen
class ExtensionTask:
    """DIRAC's MCExtensionAgent: input-less tasks for Active transformations of extendable types,
    up to their ``max_tasks``."""

    system: TransformationSystem
    name: str = "transformation.extension"
    interval: timedelta = _CYCLE

    def run_once(self) -> dict[int, Any]:
        """One extension cycle; per transformation the tasks made (or why none)."""
        return self.system.extend_tasks()


def transformation_tasks(system: TransformationSystem) -> list[Any]:
    """Every periodic task of the transformation system, for ``TaskScheduler.add``."""
    return [SplitTask(system), SubmitTask(system), MonitorTask(system), InputQueryTask(system),
            ReservationTask(system), CleaningTask(system), ExtensionTask(system)]

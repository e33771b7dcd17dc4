"""The resource status system's periodic tasks, each one call of :class:`ResourceStatusSystem`.

- ``rss.evaluation`` (every ``evaluation_interval``, 1 min): the elements whose last check is
  older than their status's period are evaluated (DIRAC's element and site inspectors);
- ``rss.expiry`` (every ``expiry_interval``, 5 min): manual statuses whose time is up go back to
  the policies (DIRAC's TokenAgent);
- ``rss.test_transfers`` (every ``test_transfer_interval``, 1 h; only with ``test_transfers =
  true``): each SE is tested, then evaluated at once so that a failure bans it without waiting.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import attrs

from dirac_core.model.resource_status import ElementType

if TYPE_CHECKING:
    from dirac_core.rss.system import ResourceStatusSystem

__all__ = ["EvaluationTask", "ExpiryTask", "TestTransferTask", "rss_tasks"]


@attrs.frozen
class EvaluationTask:
    """Evaluates the elements that are due."""

    system: ResourceStatusSystem
    interval: timedelta
    name: str = "rss.evaluation"

    def run_once(self) -> dict[str, Any]:
        """One pass; how many elements were evaluated and changed, and the policies that failed."""
        report = self.system.evaluate()
        return {"evaluated": len(report.evaluated), "changed": len(report.changes),
                "errors": [f"{key}: {outcome.policy}: {outcome.reason}" for key, outcome in report.errors]}


@attrs.frozen
class ExpiryTask:
    """Hands expired manual statuses back to the policies."""

    system: ResourceStatusSystem
    interval: timedelta
    name: str = "rss.expiry"

    def run_once(self) -> int:
        """How many statuses were handed back."""
        return len(self.system.expire_overrides())


@attrs.frozen
class TestTransferTask:
    """Tests every SE, then evaluates the SEs."""

    __test__ = False  # not a pytest test class, whatever its name

    system: ResourceStatusSystem
    interval: timedelta
    name: str = "rss.test_transfers"

    def run_once(self) -> dict[str, bool]:
        """Whether each SE's test worked."""
        tests = self.system.test_transfers()
        self.system.evaluate(force=True, names=tests, element_types=[ElementType.STORAGE_ELEMENT])
        return {se: test.ok for se, test in tests.items()}


def rss_tasks(system: ResourceStatusSystem) -> list[Any]:
    """The periodic tasks of the resource status system, for ``TaskScheduler.add``."""
    settings = system.settings
    tasks: list[Any] = [EvaluationTask(system, timedelta(seconds=settings.evaluation_interval)),
                        ExpiryTask(system, timedelta(seconds=settings.expiry_interval))]
    if settings.test_transfers:
        tasks.append(TestTransferTask(system, timedelta(seconds=settings.test_transfer_interval)))
    return tasks

"""The WMS periodic tasks, each one call of :mod:`dirac_core.wms.housekeeping`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import attrs

from dirac_core.wms import housekeeping

if TYPE_CHECKING:
    from dirac_core.wms.engine import WorkloadManager

__all__ = ["WMSTask", "wms_tasks"]


@attrs.frozen
class WMSTask:
    """A named periodic call of one housekeeping function on the engine."""

    name: str
    interval: timedelta
    work: Callable[[WorkloadManager], int]
    wms: WorkloadManager

    def run_once(self) -> int:
        """One cycle; returns how many jobs (or queues) it changed."""
        return self.work(self.wms)


def wms_tasks(wms: WorkloadManager) -> list[WMSTask]:
    """Every WMS periodic task with DIRAC-like intervals."""
    def task(name: str, minutes: float, work: Callable[[WorkloadManager], int]) -> WMSTask:
        return WMSTask(f"wms.{name}", timedelta(minutes=minutes), work, wms)
    return [
        task("stalled_jobs", 60, housekeeping.detect_stalled),
        task("matched_recovery", 15, housekeeping.recover_matched),
        task("held_jobs", 1, lambda w: w.release_held()),
        task("job_cleaning", 60, housekeeping.remove_old_jobs),
        task("heartbeat_cleaning", 24 * 60, housekeeping.clean_heartbeats),
        task("task_queues", 2, housekeeping.maintain_queues),
        task("status_counts", 0.25, housekeeping.fold_status_counts),
    ]

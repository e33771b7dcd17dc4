"""The watchdog: measure a payload's process tree and decide whether it must be stopped.

:func:`verdict` is a pure function of a :class:`Sample` and the job's
:class:`Limits`, so every rule is tested without running anything;
:class:`ProcessTree` measures the payload and its descendants from ``/proc``
(Linux), and stops them all.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from pathlib import Path

from attrs import frozen

__all__ = ["Limits", "ProcessTree", "Sample", "verdict"]

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@frozen(kw_only=True)
class Sample:
    """One look at a running payload: seconds since it started, CPU seconds used by its tree,
    resident memory of its tree in MB, free disk in the work directory in MB, and the pilot's
    time left in seconds (None when unknown)."""

    wall: float
    cpu: float
    rss_mb: float
    disk_free_mb: float
    time_left: float | None = None


@frozen(kw_only=True)
class Limits:
    """When a payload is stopped (None or 0 disables a rule).

    ``min_cpu_ratio`` (CPU seconds per wall second, summed over the tree) is
    only checked once ``ratio_grace`` seconds have passed, so that a payload
    still downloading its input is not taken for stalled.
    """

    wall_seconds: float | None = None
    cpu_seconds: float | None = None
    max_rss_mb: float | None = None
    min_disk_mb: float = 10.0
    min_cpu_ratio: float = 0.0
    ratio_grace: float = 1800.0
    time_left_margin: float = 0.0


def verdict(sample: Sample, limits: Limits) -> str | None:
    """Why the payload must be stopped now, or None to let it run (the first rule that fires)."""
    s, lim = sample, limits
    ratio = s.cpu / s.wall if s.wall > 0 else 0.0
    rules = [
        (bool(lim.wall_seconds) and s.wall > (lim.wall_seconds or 0),
         lambda: f"Watchdog: wall clock limit exceeded ({s.wall:.0f} s > {lim.wall_seconds:.0f} s)"),
        (bool(lim.cpu_seconds) and s.cpu > (lim.cpu_seconds or 0),
         lambda: f"Watchdog: CPU time limit exceeded ({s.cpu:.0f} s > {lim.cpu_seconds:.0f} s)"),
        (bool(lim.max_rss_mb) and s.rss_mb > (lim.max_rss_mb or 0),
         lambda: f"Watchdog: memory limit exceeded ({s.rss_mb:.0f} MB > {lim.max_rss_mb:.0f} MB)"),
        (bool(lim.min_disk_mb) and s.disk_free_mb < lim.min_disk_mb,
         lambda: f"Watchdog: disk almost full ({s.disk_free_mb:.0f} MB free)"),
        (bool(lim.min_cpu_ratio) and s.wall > lim.ratio_grace and ratio < lim.min_cpu_ratio,
         lambda: f"Watchdog: job stalled (CPU/wall {ratio:.3f} < {lim.min_cpu_ratio} after {s.wall:.0f} s)"),
        (s.time_left is not None and s.time_left <= lim.time_left_margin,
         lambda: "Watchdog: the pilot's time is up"),
    ]
    return next((message() for fired, message in rules if fired), None)


class ProcessTree:
    """A payload process and everything it started, seen through ``/proc``."""

    def __init__(self, pid: int, *, work_dir: Path | str, proc: Path | str = "/proc") -> None:
        self.pid = pid
        self.work_dir = Path(work_dir)
        self._proc = Path(proc)

    def pids(self) -> list[int]:
        """The root and its descendants still alive (the root first)."""
        children: dict[int, list[int]] = {}
        for entry in self._proc.iterdir():
            if entry.name.isdigit():
                stat = _stat(entry / "stat")
                if stat is not None:
                    children.setdefault(int(stat[1]), []).append(int(entry.name))
        found, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            if (self._proc / str(pid)).exists():
                found.append(pid)
            todo.extend(children.get(pid, ()))
        return found

    def measure(self, wall: float, time_left: float | None = None) -> Sample:
        """A :class:`Sample` of the tree now (processes that vanished meanwhile count as 0)."""
        cpu = rss = 0.0
        for pid in self.pids():
            stat = _stat(self._proc / str(pid) / "stat")
            if stat is None:
                continue
            # fields after the command: state(0) ppid(1) ... utime(11) stime(12) ... rss(21)
            cpu += (int(stat[11]) + int(stat[12])) / _CLOCK_TICKS
            rss += int(stat[21]) * _PAGE / 1e6
        free = shutil.disk_usage(self.work_dir).free / 1e6
        return Sample(wall=wall, cpu=cpu, rss_mb=rss, disk_free_mb=free, time_left=time_left)

    def stop(self, grace: float = 5.0) -> None:
        """SIGTERM the whole tree, then SIGKILL what is left after ``grace`` seconds."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            pids = self.pids()
            for pid in pids:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, sig)
            if sig is signal.SIGTERM and pids:
                deadline = time.monotonic() + grace
                while self.pids() and time.monotonic() < deadline:
                    time.sleep(0.05)


def _stat(path: Path) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name, or None if the process is gone."""
    try:
        text = path.read_text()
    except OSError:
        return None
    return text[text.rfind(")") + 2:].split()

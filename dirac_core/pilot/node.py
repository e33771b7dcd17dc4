"""What a worker node offers: cores, memory, disk, platform, and the time the pilot has left.

:func:`detect` reads the machine (Linux ``/proc``, ``os``, ``platform``);
the time left comes from the batch system's limits when the pilot knows them
(its ``--max-time``, or ``SLURM_JOB_END_TIME`` / ``DIRAC_PILOT_END_TIME`` in
the environment), else it is unlimited.
"""

from __future__ import annotations

import os
import platform
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

from attrs import frozen

__all__ = ["NodeInfo", "TimeLeft", "detect", "platform_name"]


def platform_name() -> str:
    """DIRAC-style platform: ``Linux_x86_64_glibc-2.36``."""
    libc, version = platform.libc_ver()
    suffix = f"_{libc}-{version}" if libc else ""
    return f"{platform.system()}_{platform.machine()}{suffix}"


@frozen(kw_only=True)
class NodeInfo:
    """The node's resources as the pilot sees them."""

    processors: int
    memory_mb: int
    disk_free_mb: int
    platform: str
    hostname: str


def _memory_mb(meminfo: Path) -> int:
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def detect(work_dir: Path | str, *, meminfo: Path | str = "/proc/meminfo") -> NodeInfo:
    """Look at this machine: usable cores, total memory, free disk in ``work_dir``."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    Path(work_dir).mkdir(parents=True, exist_ok=True)
    return NodeInfo(processors=cores, memory_mb=_memory_mb(Path(meminfo)),
                    disk_free_mb=int(shutil.disk_usage(work_dir).free // 1_000_000),
                    platform=platform_name(), hostname=platform.node())


class TimeLeft:
    """Seconds the pilot may still run, from an end time (epoch seconds) or none (unlimited)."""

    def __init__(self, end: float | None, now: Callable[[], float]) -> None:
        self.end = end
        self._now = now

    @classmethod
    def from_environment(cls, environ: Mapping[str, str], now: Callable[[], float], *,
                         max_seconds: float | None = None) -> TimeLeft:
        """The earliest of ``now + max_seconds`` and the end times the batch system exports."""
        ends = [now() + max_seconds] if max_seconds else []
        for name in ("SLURM_JOB_END_TIME", "DIRAC_PILOT_END_TIME"):
            value = environ.get(name, "")
            if value.isdigit():
                ends.append(float(value))
        return cls(min(ends) if ends else None, now)

    def __call__(self) -> float | None:
        """Seconds left, or None when unlimited."""
        return None if self.end is None else max(0.0, self.end - self._now())

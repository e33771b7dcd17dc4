"""CPU accounting for the benchmarks (Linux ``/proc``): a set of processes, the local database
servers, and the whole machine, read before and after a run so that each figure can say where
the time went."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from pathlib import Path

__all__ = ["DB_SERVERS", "cpu_seconds", "db_server_cpu", "machine_busy", "python_speed", "steal_reading",
           "steal_share"]


def cpu_seconds(pids: Sequence[int], *, children: bool = False) -> float:
    """User + system CPU seconds used so far by the processes ``pids`` (Linux ``/proc``).

    ``children``: add what their exited children used (PostgreSQL's backends,
    reaped by the postmaster).
    """
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(x) for x in fields[11:15 if children else 13]) / tick
    return total


#: The process names of the database servers (their CPU is reported apart).
DB_SERVERS = frozenset({"postgres", "mariadbd", "mysqld"})


def db_server_cpu() -> float:
    """CPU seconds used so far by the local database servers, whoever their clients are.

    Every live server process, plus what the exited ones used (in their
    parent's children time): the difference of two readings counts backends
    that came or went in between exactly.
    """
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() in DB_SERVERS:
                    pids.append(int(entry.name))
    return cpu_seconds(pids, children=True)


def _machine_jiffies() -> list[int]:
    """The whole machine's CPU jiffies so far, per kind (the ``cpu`` line of ``/proc/stat``)."""
    return [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU jiffies of the whole machine so far (``/proc/stat``)."""
    values = _machine_jiffies()
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def python_speed(loops: int = 2_000_000) -> float:
    """Millions of simple Python additions per second, the best of three tries: how fast this
    machine runs Python right now (a shared virtual machine's speed drifts by tens of percent)."""
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        total = 0
        for i in range(loops):
            total += i
        best = min(best, time.perf_counter() - start)
    return loops / best / 1e6


def steal_share(before: tuple[float, float], after: tuple[float, float]) -> float:
    """The share of the machine's CPU time its hypervisor gave to others between two
    :func:`steal_reading` readings."""
    return (after[0] - before[0]) / max(1.0, after[1] - before[1])


def steal_reading() -> tuple[float, float]:
    """(stolen, total) CPU jiffies of the whole machine so far (``/proc/stat``)."""
    values = _machine_jiffies()
    return float(values[7]), float(sum(values))

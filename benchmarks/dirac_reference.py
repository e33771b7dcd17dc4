"""DIRAC's own JDL reader and writer, run here on the same texts: the reference the targets came from.

The JDL targets of the WMS issue were set against DIRAC 9.1's ``ClassAd``
(``DIRACCommon.Core.Utilities.ClassAd.ClassAdLight``), measured on another
machine: 78,000-84,000 jobs/s parsed with nothing read back, 36,000 jobs/s with
every attribute read as a typed value. Machines differ by tens of percent in
Python speed, so the benchmark runs DIRAC's class on this machine, beside ours,
and prints both. ``nox -s bench`` installs ``DIRACCommon``; without it the
reference rows are left out. Nothing of DIRAC is part of dirac-core.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

__all__ = ["dirac_classad", "dirac_read_typed", "dirac_write", "paired_ratio"]

#: how DIRAC's job description reads each attribute of the benchmark's jobs
_INTS = frozenset({"CPUTime", "Priority"})
_LISTS = frozenset({"Site", "BannedSites", "InputSandbox", "OutputSandbox", "InputData", "Tags"})


def dirac_classad() -> Callable[[str], Any] | None:
    """DIRAC's ``ClassAd`` class, or None when ``DIRACCommon`` is not installed."""
    try:
        from DIRACCommon.Core.Utilities.ClassAd.ClassAdLight import ClassAd  # type: ignore[import-untyped]
    except ImportError:
        return None
    return ClassAd  # type: ignore[no-any-return]


def dirac_read_typed(classad: Callable[[str], Any], texts: list[str]) -> list[dict[str, Any]]:
    """Every attribute of every text read as DIRAC reads it: numbers, lists, strings."""
    out = []
    for text in texts:
        ad = classad(text)
        values: dict[str, Any] = {}
        for name in ad.getAttributes():
            if name in _INTS:
                values[name] = ad.getAttributeInt(name)
            elif name in _LISTS:
                values[name] = ad.getListFromExpression(name)
            else:
                values[name] = ad.getAttributeString(name)
        out.append(values)
    return out


def dirac_write(ads: list[Any]) -> list[str]:
    """DIRAC's JDL text of each parsed ``ClassAd``."""
    return [ad.asJDL() for ad in ads]


def paired_ratio(ours: Callable[[], object], theirs: Callable[[], object], *,
                 rounds: int = 15) -> tuple[float, float, float]:
    """(our median seconds, theirs, the median of the per-round ratios theirs/ours).

    The two run in alternate rounds, so that a machine whose speed drifts (a
    shared virtual machine) slows both alike: the ratio is steadier than either figure.
    """
    pairs = []
    for _ in range(rounds):
        start = time.perf_counter()
        ours()
        middle = time.perf_counter()
        theirs()
        pairs.append((middle - start, time.perf_counter() - middle))
    return (statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs),
            statistics.median(p[1] / p[0] for p in pairs))

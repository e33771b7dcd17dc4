"""``BySize``: tasks holding about ``GroupSize`` GB of data at the same SEs."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from functools import partial
from itertools import accumulate, islice
from typing import Any, ClassVar

from dirac_core.plugins.splitters import SplitContext, Splitter, TaskGroup
from dirac_core.transformation.splitters.grouping import Cut, alphabetical, two_passes
from dirac_core.transformation.splitters.parameters import count, invalid, number

__all__ = ["BySize", "size_cut"]

#: DIRAC's gigabyte: ``GroupSize`` is multiplied by 10**9 bytes.
GB = 1000 * 1000 * 1000
#: Whole numbers up to here are exact as floats.
EXACT_FLOATS = 2**53


class BySize(Splitter):
    """Groups files at the same SEs into tasks of about ``GroupSize`` GB (DIRAC's ``groupBySize``).

    Parameters: ``GroupSize`` in GB (10**9 bytes, default 1) and ``MaxFilesPerTask`` (alias
    ``MaxFiles``, default 100). Sizes come from the ``sizes`` argument, in bytes; a file of
    size 0 or of unknown size is never put in a task. The two passes of ``Standard`` (pass 1
    strictly alphabetical); within a group files are taken by ascending size (input order among
    equal sizes). A file larger than ``GroupSize`` is a task of its own; the others accumulate
    and a task is made when their total **exceeds** ``GroupSize`` or their number reaches
    ``MaxFilesPerTask``. The remainder becomes a task only when flushing.
    """

    defaults: ClassVar[Mapping[str, Any]] = {"GroupSize": 1, "MaxFilesPerTask": 100}
    needs: ClassVar[frozenset[str]] = frozenset({"sizes"})

    def __init__(self, parameters: Mapping[str, Any], context: SplitContext | None = None) -> None:
        super().__init__(parameters, context)
        plugin = type(self).__name__
        # multiplied as DIRAC does, so that the float is DIRAC's to the last bit
        self.group_bytes = number(plugin, self.parameters, "GroupSize", 1) * 1000 * 1000 * 1000
        if not math.isfinite(self.group_bytes):
            raise invalid(plugin, "GroupSize", "is too large", self.parameters["GroupSize"])
        name = "MaxFilesPerTask" if "MaxFilesPerTask" in self.parameters else "MaxFiles"
        self.max_files = count(plugin, self.parameters, name, 100)

    def split(self, replicas: Mapping[str, Sequence[str]], *, flush: bool = False,
              sizes: Mapping[str, int] | None = None,
              metadata: Mapping[str, Mapping[str, Any]] | None = None) -> list[TaskGroup]:
        if not sizes:
            return []
        cut = size_cut(sizes, self.group_bytes, self.max_files, flush)
        return two_passes(replicas, cut, tape_ses=self.context.tape_ses, order=alphabetical, values=sizes)


def size_cut(sizes: Mapping[str, int], group_bytes: float, max_files: int, flush: bool) -> Cut:
    """DIRAC's ``createTasksBySize`` as a :data:`~dirac_core.transformation.splitters.grouping.Cut`.

    Rather than adding sizes file by file, the cut sorts the group once, takes the running
    totals (``accumulate``) and finds where each task ends by bisection: the work per task is
    logarithmic and the per-file work is done by built-ins. Sizes are sorted as floats (exact
    for whole bytes below 2**53, and Python compares floats faster than large ints).
    """
    # sizes are whole bytes, so "total > group_bytes" is "total > floor(group_bytes)"
    limit = math.floor(group_bytes)
    size_of = sizes.get

    def cut(lfns: list[str], values: list[Any] | None = None) -> tuple[list[tuple[str, ...]], list[str]]:
        if values is None:
            values = list(map(size_of, lfns))
        try:
            keys = list(map(float, values))
        except (TypeError, ValueError):  # an unknown size (None): such files are never grouped
            lfns, keys = _known_sizes(lfns, values)
        if not keys:
            return [], []
        # CPython computes the sort keys once each, in list order: this key function hands out
        # the sizes computed above, so the LFNs are sorted without a look-up per file (in place:
        # the list is the grouping's own, and a copy would touch every string once more)
        lfns.sort(key=partial(next, iter(keys)))
        files = lfns
        keys.sort()
        first = bisect_right(keys, 0.0)  # empty files are never grouped
        small = bisect_right(keys, limit, first)  # files[small:] are each larger than a task
        totals: list[float] | list[int] = list(accumulate(islice(keys, first, small), initial=0.0))
        if totals[-1] + limit >= EXACT_FLOATS:  # petabytes: add whole numbers instead
            totals = list(accumulate(map(int, islice(keys, first, small)), initial=0))
        chunks: list[tuple[str, ...]] = []
        start = 0  # index in totals; the file is files[first + start]
        count = small - first
        while True:
            # the first total past the limit, looked for among at most max_files files
            end = bisect_right(totals, totals[start] + limit, start + 1, min(start + max_files, count) + 1)
            end = min(end, start + max_files)
            if end > count:
                break
            chunks.append(tuple(files[first + start:first + end]))
            start = end
        chunks += [(lfn,) for lfn in files[small:]]
        if start < count and flush:
            chunks.append(tuple(files[first + start:small]))
            start = count
        return chunks, files[first + start:small]

    return cut


def _known_sizes(lfns: list[str], values: list[Any]) -> tuple[list[str], list[float]]:
    known_lfns, keys = [], []
    for lfn, size in zip(lfns, values, strict=True):
        try:
            keys.append(float(size))
        except (TypeError, ValueError):
            continue
        known_lfns.append(lfn)
    return known_lfns, keys

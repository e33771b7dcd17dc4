"""DIRAC's grouping of files by where their replicas are, shared by the splitters.

**Pass 1** puts each file in the group of its exact set of SEs (a file at SE1 and SE2 is in
group ``SE1,SE2``, a file at SE1 only in group ``SE1``) and cuts each group into tasks. **Pass 2**
takes what pass 1 left (the incomplete ends of its groups) and groups it again per single SE,
a file appearing under each of its SEs, SEs taken disk first then tape; a file put in a task
at one SE leaves the lists of the others. Files keep the order they were given in, within
every group. A file with no replica is never grouped.

How a group is cut into tasks is the splitter's: a :data:`Cut` returns the tasks' LFNs and
what is left. :func:`by_count` is DIRAC's ``groupByReplicas`` cut (``GroupSize`` files, the
incomplete end only when flushing).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from dirac_core.plugins.splitters import TaskGroup

__all__ = [
    "Cut",
    "Key",
    "alphabetical",
    "by_count",
    "by_replica_set",
    "by_replica_set_with",
    "disk_first",
    "group_by_replicas",
    "replica_set_order",
    "two_passes",
]

#: The sorted, distinct SEs of a file: the key of its pass-1 group and the task's target SEs.
Key = tuple[str, ...]
#: Cuts one group (LFNs in order, and their values when the splitter asked for them) into tasks;
#: returns the tasks' LFNs and the LFNs left over. The lists are the grouping's own: a cut may
#: reorder them.
Cut = Callable[[list[str], list[Any] | None], tuple[list[tuple[str, ...]], list[str]]]
#: Orders the pass-1 groups given the tape SEs.
Order = Callable[[Iterable[Key], Collection[str]], list[Key]]


def by_replica_set(replicas: Mapping[str, Sequence[str]]) -> dict[Key, list[str]]:
    """Files grouped by the sorted set of their SEs, groups in the order first met, files in order.

    Files with no replica are left out. The canonical key of each distinct replica list is
    computed once, so the cost per file is a tuple and two dictionary look-ups.
    """
    canonical: dict[tuple[str, ...], Key] = {}
    groups: dict[Key, list[str]] = {}
    for lfn, ses in replicas.items():
        key = canonical.get(tuple(ses))
        if key is None:
            key = canonical[tuple(ses)] = _canonical(lfn, ses)
        group = groups.get(key)
        if group is None:
            groups[key] = [lfn]
        else:
            group.append(lfn)
    groups.pop((), None)
    return groups


def by_replica_set_with(replicas: Mapping[str, Sequence[str]],
                        values: Mapping[str, Any]) -> dict[Key, tuple[list[str], list[Any]]]:
    """:func:`by_replica_set` with each group's ``values`` (``None`` where missing) alongside.

    The values are looked up in the input order, the order they were most likely stored in:
    looking them up later, group by group, costs twice as much in cache misses.
    """
    canonical: dict[tuple[str, ...], Key] = {}
    groups: dict[Key, tuple[list[str], list[Any]]] = {}
    for lfn, ses, value in zip(replicas, replicas.values(), map(values.get, replicas), strict=True):
        key = canonical.get(tuple(ses))
        if key is None:
            key = canonical[tuple(ses)] = _canonical(lfn, ses)
        group = groups.get(key)
        if group is None:
            groups[key] = group = ([], [])
        group[0].append(lfn)
        group[1].append(value)
    groups.pop((), None)
    return groups


def _canonical(lfn: str, ses: Sequence[str]) -> Key:
    if isinstance(ses, str):
        raise TypeError(f"the replicas of {lfn!r} must be a list of SE names, not the string {ses!r}")
    return tuple(sorted(set(ses)))


def disk_first(ses: Iterable[str], tape_ses: Collection[str]) -> list[str]:
    """SE names, disk SEs first then tape SEs, each alphabetical (DIRAC's ``sortSEs``)."""
    ses = sorted(ses)
    return [se for se in ses if se not in tape_ses] + [se for se in ses if se in tape_ses]


def alphabetical(keys: Iterable[Key], tape_ses: Collection[str] = ()) -> list[Key]:
    """Pass-1 groups ordered by their comma-joined name (``"SE1,SE2"`` as DIRAC sorts it)."""
    return sorted(keys, key=",".join)


def replica_set_order(keys: Iterable[Key], tape_ses: Collection[str]) -> list[Key]:
    """DIRAC's order for ``groupByReplicas``: alphabetical when any group has several SEs,
    otherwise disk SEs first then tape SEs."""
    keys = list(keys)
    if any(len(key) > 1 for key in keys):
        return alphabetical(keys)
    return [(se,) for se in disk_first((key[0] for key in keys), tape_ses)]


def by_count(group_size: int, flush: bool) -> Cut:
    """Chunks of ``group_size`` files in order; the incomplete last chunk only when ``flush``."""
    def cut(lfns: list[str], values: list[Any] | None = None) -> tuple[list[tuple[str, ...]], list[str]]:
        total = len(lfns)
        full = total if flush else total - total % group_size
        files = tuple(lfns)
        return [files[i:i + group_size] for i in range(0, full, group_size)], lfns[full:]
    return cut


def two_passes(replicas: Mapping[str, Sequence[str]], cut: Cut, *, tape_ses: Collection[str],
               order: Order = replica_set_order, values: Mapping[str, Any] | None = None) -> list[TaskGroup]:
    """The tasks of DIRAC's two passes over ``replicas`` (pass 1 groups in ``order``).

    With ``values`` (sizes, say), pass 1 gives ``cut`` each group's values too; pass 2, whose
    lists are short, gives ``None`` and the cut looks them up itself.
    """
    tasks: list[TaskGroup] = []
    left: list[str] = []
    if values is None:
        plain = by_replica_set(replicas)
        for key in order(plain, tape_ses):
            chunks, rest = cut(plain[key], None)
            tasks += [TaskGroup(key, chunk) for chunk in chunks]
            left += rest
    else:
        paired = by_replica_set_with(replicas, values)
        for key in order(paired, tape_ses):
            chunks, rest = cut(*paired[key])
            tasks += [TaskGroup(key, chunk) for chunk in chunks]
            left += rest
    if not left:
        return tasks
    per_se: dict[str, list[str]] = {}
    for lfn in filter(set(left).__contains__, replicas):  # in the input order, which pass 2 keeps
        for se in set(replicas[lfn]):
            per_se.setdefault(se, []).append(lfn)
    taken: set[str] = set()
    for se in disk_first(per_se, tape_ses):
        lfns = [lfn for lfn in per_se[se] if lfn not in taken] if taken else per_se[se]
        if not lfns:
            continue
        target = (se,)
        for chunk in cut(lfns, None)[0]:
            tasks.append(TaskGroup(target, chunk))
            taken.update(chunk)
    return tasks


def group_by_replicas(replicas: Mapping[str, Sequence[str]], group_size: int, *, flush: bool,
                      tape_ses: Collection[str]) -> list[TaskGroup]:
    """DIRAC's ``groupByReplicas``: both passes, ``group_size`` files per task."""
    return two_passes(replicas, by_count(group_size, flush), tape_ses=tape_ses)

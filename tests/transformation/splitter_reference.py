"""A literal, slow model of DIRAC's groupByReplicas and groupBySize, written from the documented
semantics (reference/dms.md §5.4), to compare the optimised splitters with on random inputs.

Tasks are ``(target, [lfns])`` with ``target`` the comma-joined SE string DIRAC uses.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence

Tasks = list[tuple[str, list[str]]]


def file_groups(files: Mapping[str, Sequence[str]], by_set: bool) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for lfn, ses in files.items():
        distinct = sorted(set(ses))
        if not distinct:
            continue
        if by_set and len(distinct) > 1:
            groups.setdefault(",".join(distinct), []).append(lfn)
        else:
            for se in distinct:
                groups.setdefault(se, []).append(lfn)
    return groups


def sort_ses(keys: Collection[str], tape: Collection[str]) -> list[str]:
    if any("," in key for key in keys):
        return sorted(keys)
    return sorted(k for k in keys if k not in tape) + sorted(k for k in keys if k in tape)


def by_count(lfns: list[str], target: str, group_size: int, flush: bool) -> Tasks:
    tasks = []
    for start in range(0, len(lfns), group_size):
        chunk = lfns[start:start + group_size]
        if flush or len(chunk) >= group_size:
            tasks.append((target, chunk))
    return tasks


def by_size(lfns: list[str], target: str, sizes: Mapping[str, int], *, limit: float, max_files: int,
            flush: bool) -> Tasks:
    tasks: Tasks = []
    current: list[str] = []
    total = 0
    for lfn in sorted(lfns, key=lambda name: sizes.get(name) or 0):
        size = sizes.get(lfn) or 0
        if size <= 0:
            continue
        if size > limit:
            tasks.append((target, [lfn]))
            continue
        total += size
        current.append(lfn)
        if total > limit or len(current) >= max_files:
            tasks.append((target, current))
            current, total = [], 0
    if flush and current:
        tasks.append((target, current))
    return tasks


def two_passes(replicas: Mapping[str, Sequence[str]], cut: Callable[[list[str], str], Tasks],
               tape: Collection[str], pass1_alphabetical: bool) -> Tasks:
    files = dict(replicas)
    tasks: Tasks = []
    for by_set in (True, False):
        if not files:
            break
        groups = file_groups(files, by_set)
        order = sorted(groups) if by_set and pass1_alphabetical else sort_ses(groups, tape)
        for key in order:
            new = cut(groups[key], key)
            used = [lfn for _, lfns in new for lfn in lfns]
            tasks += new
            for lfn in used:
                files.pop(lfn)
            if not by_set:
                for other in groups:
                    if other != key:
                        groups[other] = [lfn for lfn in groups[other] if lfn not in used]
    return tasks


def standard(replicas: Mapping[str, Sequence[str]], group_size: int, flush: bool,
             tape: Collection[str] = ()) -> Tasks:
    return two_passes(replicas, lambda lfns, key: by_count(lfns, key, group_size, flush), tape, False)


def bysize(replicas: Mapping[str, Sequence[str]], sizes: Mapping[str, int], group_gb: float, *,
           max_files: int, flush: bool, tape: Collection[str] = ()) -> Tasks:
    limit = float(group_gb) * 1000 * 1000 * 1000
    def cut(lfns: list[str], key: str) -> Tasks:
        return by_size(lfns, key, sizes, limit=limit, max_files=max_files, flush=flush)

    return two_passes(replicas, cut, tape, True)

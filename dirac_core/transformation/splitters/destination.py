"""Splitters that choose where tasks go: ``BySiteList`` and ``ByFreeSpace`` (not in DIRAC)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from dirac_core.plugins.splitters import SplitContext, Splitter, TaskGroup
from dirac_core.transformation.splitters.by_size import GB
from dirac_core.transformation.splitters.grouping import group_by_replicas
from dirac_core.transformation.splitters.parameters import count, names, number

__all__ = ["ByFreeSpace", "BySiteList"]


class BySiteList(Splitter):
    """``Standard`` restricted to the SEs of the sites in ``Sites``.

    Parameters: ``Sites`` (required: site names) and ``GroupSize`` (files per task, default 10).
    Each file's replicas are cut down to the SEs whose site (:attr:`SplitContext.se_sites`) is
    listed; files with none left are not grouped; the rest are grouped as ``Standard`` groups
    them, so every task targets SEs at the listed sites (its jobs run there).
    """

    defaults: ClassVar[Mapping[str, Any]] = {"Sites": (), "GroupSize": 10}

    def __init__(self, parameters: Mapping[str, Any], context: SplitContext | None = None) -> None:
        super().__init__(parameters, context)
        plugin = type(self).__name__
        self.sites = frozenset(names(plugin, self.parameters, "Sites", required=True))
        self.group_size = count(plugin, self.parameters, "GroupSize", 10)

    def split(self, replicas: Mapping[str, Sequence[str]], *, flush: bool = False,
              sizes: Mapping[str, int] | None = None,
              metadata: Mapping[str, Mapping[str, Any]] | None = None) -> list[TaskGroup]:
        allowed = {se for se, site in self.context.se_sites.items() if site in self.sites}
        kept: dict[str, list[str]] = {}
        for lfn, ses in replicas.items():
            at_sites = [se for se in ses if se in allowed]
            if at_sites:
                kept[lfn] = at_sites
        return group_by_replicas(kept, self.group_size, flush=flush, tape_ses=self.context.tape_ses)


class ByFreeSpace(Splitter):
    """Groups like ``Standard``, then sends each task to the target SEs with the most free space.

    For replication. Parameters: ``TargetSE`` (required: the candidate destination SEs),
    ``Destinations`` (copies per task, default 1), ``GroupSize`` (files per task, default 10)
    and ``MinFreeSpace`` (GB to leave free on a destination, default 0).

    Free space is :attr:`SplitContext.free_space` (bytes); an SE whose free space is unknown is
    never chosen. For each group, the candidates are the targets that hold none of its files and
    would keep ``MinFreeSpace`` after receiving the group's bytes (``sizes``; unknown sizes count
    as 0); the ``Destinations`` candidates with the most free space are chosen (the ``TargetSE``
    order on a tie) and their free space shrinks by the group's bytes. A group with no candidate
    is left for a later cycle. A task targets its chosen SEs, sorted.
    """

    defaults: ClassVar[Mapping[str, Any]] = {"TargetSE": (), "Destinations": 1, "GroupSize": 10,
                                             "MinFreeSpace": 0}
    needs: ClassVar[frozenset[str]] = frozenset({"sizes", "free_space"})

    def __init__(self, parameters: Mapping[str, Any], context: SplitContext | None = None) -> None:
        super().__init__(parameters, context)
        plugin = type(self).__name__
        self.targets = names(plugin, self.parameters, "TargetSE", required=True)
        self.destinations = count(plugin, self.parameters, "Destinations", 1)
        self.group_size = count(plugin, self.parameters, "GroupSize", 10)
        self.min_free = number(plugin, self.parameters, "MinFreeSpace", 0, positive=False) * GB

    def split(self, replicas: Mapping[str, Sequence[str]], *, flush: bool = False,
              sizes: Mapping[str, int] | None = None,
              metadata: Mapping[str, Mapping[str, Any]] | None = None) -> list[TaskGroup]:
        known = self.context.free_space
        free = {se: known[se] for se in self.targets if se in known}
        size_of = (sizes or {}).get
        tasks: list[TaskGroup] = []
        groups = group_by_replicas(replicas, self.group_size, flush=flush, tape_ses=self.context.tape_ses)
        for group in groups:
            holding = set(group.target_ses).union(*(replicas[lfn] for lfn in group.lfns))
            needed = sum(size_of(lfn) or 0 for lfn in group.lfns)
            fitting = [se for se in free if se not in holding and free[se] - needed >= self.min_free]
            chosen = sorted(fitting, key=free.__getitem__, reverse=True)[:self.destinations]
            if not chosen:
                continue
            for se in chosen:
                free[se] -= needed
            tasks.append(TaskGroup(tuple(sorted(chosen)), group.lfns))
        return tasks

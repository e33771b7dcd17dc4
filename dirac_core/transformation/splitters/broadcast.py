"""``Broadcast``: copy files to a list of target SEs (replication transformations)."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from dirac_core.plugins.splitters import SplitContext, Splitter, TaskGroup
from dirac_core.transformation.splitters.grouping import by_replica_set
from dirac_core.transformation.splitters.parameters import count, names

__all__ = ["Broadcast"]


class Broadcast(Splitter):
    """Sends every file to the ``TargetSE`` list, or to ``Destinations`` of them at new sites.

    Parameters: ``TargetSE`` (required: SE names), ``SourceSE`` (optional: only files with a
    replica at one of these SEs are taken), ``Destinations`` (optional: at most this many
    targets at sites that do not hold the file yet; 0, or at least the number of targets,
    means all) and ``GroupSize`` (files per task, default 1).

    For each file the target list is shuffled (seeded by :attr:`SplitContext.seed`); a target
    at a site that holds the file, or at a site already chosen for it, is always kept (it does
    not count as a new site), a target at a new site is kept while fewer than ``Destinations``
    targets are chosen. Files are then grouped by their sorted set of targets, in the order met
    (files by the set of SEs holding them, then in input order), and cut in chunks of
    ``GroupSize``; without ``flush`` only full chunks become tasks.
    """

    defaults: ClassVar[Mapping[str, Any]] = {"TargetSE": (), "SourceSE": (), "Destinations": 0,
                                             "GroupSize": 1}

    def __init__(self, parameters: Mapping[str, Any], context: SplitContext | None = None) -> None:
        super().__init__(parameters, context)
        plugin = type(self).__name__
        self.targets = names(plugin, self.parameters, "TargetSE", required=True)
        self.sources = frozenset(names(plugin, self.parameters, "SourceSE", required=False))
        self.destinations = count(plugin, self.parameters, "Destinations", 0, minimum=0)
        self.group_size = count(plugin, self.parameters, "GroupSize", 1)

    def split(self, replicas: Mapping[str, Sequence[str]], *, flush: bool = False,
              sizes: Mapping[str, int] | None = None,
              metadata: Mapping[str, Mapping[str, Any]] | None = None) -> list[TaskGroup]:
        se_sites = self.context.se_sites
        new_sites = self.destinations if self.destinations < len(self.targets) else 0
        shuffle = random.Random(self.context.seed).shuffle
        targets = list(self.targets)
        target_sites = [(se, se_sites.get(se, "")) for se in targets]
        site_of = dict(target_sites)
        by_targets: dict[tuple[str, ...], list[str]] = {}
        for ses, lfns in by_replica_set(replicas).items():
            if self.sources and self.sources.isdisjoint(ses):
                continue
            holding = {se_sites[se] for se in ses if se in se_sites}
            for lfn in lfns:
                shuffle(targets)
                chosen: list[str] = []
                sites = set(holding)
                for target in targets:
                    site = site_of[target]
                    if site not in sites:
                        if new_sites and len(chosen) >= new_sites:
                            continue
                        sites.add(site)
                    chosen.append(target)
                by_targets.setdefault(tuple(sorted(chosen)), []).append(lfn)
        size = self.group_size
        tasks: list[TaskGroup] = []
        for chosen_ses, lfns in by_targets.items():
            files = tuple(lfns)
            full = len(files) if flush else len(files) - len(files) % size
            tasks += [TaskGroup(chosen_ses, files[i:i + size]) for i in range(0, full, size)]
        return tasks

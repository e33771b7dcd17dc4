"""``ByShare``: tasks sent to the sites furthest below their CPU share."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from dirac_core.plugins.splitters import SplitContext, Splitter, TaskGroup
from dirac_core.transformation.splitters.grouping import group_by_replicas
from dirac_core.transformation.splitters.parameters import count

__all__ = ["ByShare", "normalised"]

log = logging.getLogger(__name__)


class ByShare(Splitter):
    """Groups like ``Standard``, then sends each task to the site most below its share.

    Parameter ``GroupSize`` (files per task, default 10). The shares are
    :attr:`SplitContext.shares` (CPU shares per site, normalised to 100); the usage so far is
    :attr:`SplitContext.used` (files given to each SE by this transformation) counted per site.
    For each group, among the sites of the group's SEs that have a non-zero share, the one with
    the largest ``share - current usage share`` wins (the first in the shares' order on a tie);
    the task targets the first SE of that site (in the order of :attr:`SplitContext.se_sites`)
    holding the files, and the site's usage grows by the task's files. A group at no site with
    a share is left for a later cycle; with no shares at all, no task is made.

    Two deliberate differences from DIRAC: the usage of several SEs at one site is added up
    (DIRAC keeps the last SE's count), and a group makes one task (DIRAC makes one per SE of the
    chosen site holding the files, of which only the first can be created).
    """

    defaults: ClassVar[Mapping[str, Any]] = {"GroupSize": 10}
    needs: ClassVar[frozenset[str]] = frozenset({"usage"})

    def __init__(self, parameters: Mapping[str, Any], context: SplitContext | None = None) -> None:
        super().__init__(parameters, context)
        self.group_size = count(type(self).__name__, self.parameters, "GroupSize", 10)

    def split(self, replicas: Mapping[str, Sequence[str]], *, flush: bool = False,
              sizes: Mapping[str, int] | None = None,
              metadata: Mapping[str, Mapping[str, Any]] | None = None) -> list[TaskGroup]:
        context = self.context
        shares = {site: share for site, share in normalised(context.shares).items() if share > 0}
        if not shares:
            log.warning("ByShare: no non-zero CPU shares are known, no task is made")
            return []
        se_sites = context.se_sites
        usage = dict.fromkeys(shares, 0.0)
        for se, files in context.used.items():
            site = se_sites.get(se)
            if site in usage:
                usage[site] += files
        site_ses: dict[str, list[str]] = {}
        for se, site in se_sites.items():
            site_ses.setdefault(site, []).append(se)
        tasks: list[TaskGroup] = []
        for group in group_by_replicas(replicas, self.group_size, flush=flush, tape_ses=context.tape_ses):
            candidates = {se_sites[se] for se in group.target_ses if se in se_sites}
            site = _furthest_below_share(shares, usage, candidates)
            if site is None:
                continue
            target = next(se for se in site_ses[site] if se in group.target_ses)
            tasks.append(TaskGroup((target,), group.lfns))
            usage[site] += len(group.lfns)
        return tasks


def normalised(shares: Mapping[str, float]) -> dict[str, float]:
    """The shares as percentages of their total (all 0 when the total is 0)."""
    total = sum(float(share) for share in shares.values())
    return {site: 100.0 * float(share) / total if total else 0.0 for site, share in shares.items()}


def _furthest_below_share(shares: Mapping[str, float], usage: Mapping[str, float],
                          candidates: set[str]) -> str | None:
    current = normalised(usage)
    best, best_gap = None, -float("inf")
    for site, share in shares.items():
        if site in candidates and share - current[site] > best_gap:
            best, best_gap = site, share - current[site]
    return best

"""``Standard``: DIRAC's default splitter, tasks of ``GroupSize`` files at the same SEs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from dirac_core.plugins.splitters import SplitContext, Splitter, TaskGroup
from dirac_core.transformation.splitters.grouping import group_by_replicas
from dirac_core.transformation.splitters.parameters import count

__all__ = ["Standard"]


class Standard(Splitter):
    """Groups files by the SEs holding them (DIRAC's ``groupByReplicas``).

    Parameter ``GroupSize`` (files per task, default 10). Pass 1 groups files by their exact
    set of SEs, groups taken alphabetically (``"SE1,SE2"``), and cuts each into chunks of
    ``GroupSize`` files in input order; pass 2 regroups the leftovers per single SE, disk SEs
    first then tape. A task targets the SEs of its group. Without ``flush`` only full chunks
    become tasks.
    """

    defaults: ClassVar[Mapping[str, Any]] = {"GroupSize": 10}

    def __init__(self, parameters: Mapping[str, Any], context: SplitContext | None = None) -> None:
        super().__init__(parameters, context)
        self.group_size = count(type(self).__name__, self.parameters, "GroupSize", 10)

    def split(self, replicas: Mapping[str, Sequence[str]], *, flush: bool = False,
              sizes: Mapping[str, int] | None = None,
              metadata: Mapping[str, Mapping[str, Any]] | None = None) -> list[TaskGroup]:
        return group_by_replicas(replicas, self.group_size, flush=flush, tape_ses=self.context.tape_ses)

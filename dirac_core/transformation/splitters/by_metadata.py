"""``ByMetadata``: tasks whose files share the values of chosen metadata keys (not in DIRAC)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from operator import itemgetter
from typing import Any, ClassVar

from dirac_core.plugins.splitters import SplitContext, Splitter, TaskGroup
from dirac_core.transformation.splitters.grouping import group_by_replicas
from dirac_core.transformation.splitters.parameters import count, names

__all__ = ["ByMetadata"]


class ByMetadata(Splitter):
    """Groups files by the values of the metadata keys in ``MetaKeys``, then like ``Standard``.

    Parameters: ``MetaKeys`` (required: metadata names, e.g. ``"RunNumber, Stream"``) and
    ``GroupSize`` (files per task, default 10). Metadata come from the ``metadata`` argument
    (``{lfn: {key: value}}``); a file without a value for every key is not grouped. Within each
    set of values (taken in the order first met) files are grouped as ``Standard`` groups them,
    so no task mixes two runs (say) and every task's files are at its target SEs.
    """

    defaults: ClassVar[Mapping[str, Any]] = {"MetaKeys": (), "GroupSize": 10}
    needs: ClassVar[frozenset[str]] = frozenset({"metadata"})

    def __init__(self, parameters: Mapping[str, Any], context: SplitContext | None = None) -> None:
        super().__init__(parameters, context)
        plugin = type(self).__name__
        self.keys = names(plugin, self.parameters, "MetaKeys", required=True)
        self.group_size = count(plugin, self.parameters, "GroupSize", 10)

    def split(self, replicas: Mapping[str, Sequence[str]], *, flush: bool = False,
              sizes: Mapping[str, int] | None = None,
              metadata: Mapping[str, Mapping[str, Any]] | None = None) -> list[TaskGroup]:
        if not metadata:
            return []
        pick = itemgetter(*self.keys)
        by_values: dict[Any, dict[str, Sequence[str]]] = {}
        for lfn, ses in replicas.items():
            meta = metadata.get(lfn)
            if meta is None:
                continue
            try:
                values = pick(meta)
            except KeyError:
                continue
            try:
                files = by_values.get(values)
            except TypeError:  # a multi-valued field: compare its values as a tuple
                values = _hashable(values)
                files = by_values.get(values)
            if files is None:
                by_values[values] = files = {}
            files[lfn] = ses
        tasks: list[TaskGroup] = []
        for files in by_values.values():
            tasks += group_by_replicas(files, self.group_size, flush=flush, tape_ses=self.context.tape_ses)
        return tasks


def _hashable(value: Any) -> Any:
    """Lists (a multi-valued field) compare as tuples, sets as frozensets."""
    if isinstance(value, list | tuple):
        return tuple(_hashable(item) for item in value)
    if isinstance(value, set | frozenset):
        return frozenset(value)
    return value

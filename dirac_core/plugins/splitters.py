"""The splitter contract: how a transformation's unused files are grouped into tasks.

A splitter is a driver of ``dirac.splitters`` (``Standard``, ``BySize``, ``Broadcast``,
``ByShare``, ...). It is built once per transformation from the transformation's parameters,
which it checks in its constructor (a bad parameter raises
:class:`~dirac_core.errors.InvalidTransformation` when the transformation is created, not
when it runs). Each cycle :meth:`Splitter.split` gets the candidate files with their replicas
and returns the tasks to create: each a group of LFNs and the SEs the task targets.

Splitters are pure and fast: no database, no catalog calls; what they need about SEs and sites
comes in the :class:`SplitContext`. Incomplete groups are emitted only when ``flush`` is true.
The built-in splitters are in :mod:`dirac_core.transformation.splitters`; every splitter runs
the conformance suite :class:`dirac_core.testing.conformance.splitters.SplitterSuite`.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import attrs

from dirac_core.plugins.driver import Driver

__all__ = ["SplitContext", "Splitter", "TaskGroup"]


@attrs.frozen(slots=True)
class TaskGroup:
    """One task to create: its files, in order, and the SEs it targets (its ``TargetSE``)."""

    target_ses: tuple[str, ...]
    lfns: tuple[str, ...]


@attrs.frozen(kw_only=True)
class SplitContext:
    """What a splitter may know of the grid.

    ``se_sites``: the site of each SE; ``tape_ses``: the SEs that are tape; ``free_space``:
    bytes free per SE (where known); ``shares``: CPU shares per site; ``used``: files already
    given to each SE by this transformation (its ``UsedSE`` counts); ``seed``: the seed of any
    random choice, so that a cycle can be replayed.
    """

    se_sites: Mapping[str, str] = attrs.field(factory=dict)
    tape_ses: frozenset[str] = frozenset()
    free_space: Mapping[str, int] = attrs.field(factory=dict)
    shares: Mapping[str, float] = attrs.field(factory=dict)
    used: Mapping[str, int] = attrs.field(factory=dict)
    seed: int = 0


class Splitter(Driver):
    """Groups files into tasks. ``parameters`` are the transformation's (``GroupSize``, ...).

    The constructor reads and checks every parameter the splitter uses (a bad one raises
    :class:`~dirac_core.errors.InvalidTransformation` with ``parameter`` set to its name); it
    needs no context, so a transformation's parameters can be checked at creation with
    ``Splitter(parameters)`` alone. ``split`` keeps no state between calls, changes none of its
    arguments and gives the same tasks for the same arguments and context (random choices
    draw from ``context.seed``).
    """

    #: the parameters this splitter reads, with their defaults (documentation and the CLI's help)
    defaults: ClassVar[Mapping[str, Any]] = {}
    #: what ``split`` needs besides replicas, for the caller to fetch: ``"sizes"``, ``"metadata"``
    #: (from the catalog), ``"usage"`` (``context.used``), ``"free_space"`` (``context.free_space``,
    #: asked of the storage elements). The CPU shares and the SEs' sites and media always come.
    needs: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, parameters: Mapping[str, Any], context: SplitContext | None = None) -> None:
        self.parameters = dict(parameters)
        self.context = context or SplitContext()

    @abstractmethod
    def split(self, replicas: Mapping[str, Sequence[str]], *, flush: bool = False,
              sizes: Mapping[str, int] | None = None,
              metadata: Mapping[str, Mapping[str, Any]] | None = None) -> list[TaskGroup]:
        """The tasks for these files (``{lfn: [SE, ...]}``, in the order given); ``sizes`` (bytes)
        and ``metadata`` (``{key: value}``) by LFN where the splitter needs them. A file is in at
        most one task, a file with no replica in none; tasks come in the order to create them."""

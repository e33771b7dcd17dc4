"""The splitters shipped with dirac-core: how a transformation's files are grouped into tasks.

DIRAC's four, with its semantics: :class:`Standard` (``GroupSize`` files at the same SEs),
:class:`BySize` (about ``GroupSize`` GB per task), :class:`Broadcast` (replicate to target
SEs) and :class:`ByShare` (tasks to the sites furthest below their CPU share). Ours:
:class:`BySiteList` and :class:`ByFreeSpace` (where tasks go) and :class:`ByMetadata` (files
that share metadata values). Each is registered in the entry-point group ``dirac.splitters``
under its class name; the contract is :class:`dirac_core.plugins.splitters.Splitter`.
"""

from __future__ import annotations

from dirac_core.transformation.splitters.broadcast import Broadcast
from dirac_core.transformation.splitters.by_metadata import ByMetadata
from dirac_core.transformation.splitters.by_share import ByShare
from dirac_core.transformation.splitters.by_size import BySize
from dirac_core.transformation.splitters.destination import ByFreeSpace, BySiteList
from dirac_core.transformation.splitters.standard import Standard

__all__ = ["Broadcast", "ByFreeSpace", "ByMetadata", "ByShare", "BySiteList", "BySize", "Standard"]

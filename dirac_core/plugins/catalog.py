"""The file-catalog contract: logical file names and where their replicas are.

Every call is bulk: it takes many LFNs and returns a
:class:`~dirac_core.errors.BulkResult` with DIRAC's per-item semantics
(re-adding an identical file succeeds, removing a missing file succeeds,
asking for a missing file fails that item with ``NotFound``).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence

from attrs import frozen

from dirac_core.errors import BulkResult
from dirac_core.plugins.driver import Driver

__all__ = ["Catalog", "FileEntry"]


@frozen(kw_only=True)
class FileEntry:
    """A logical file: its name, size, checksum and GUID."""

    lfn: str
    size: int
    checksum: str | None = None
    guid: str | None = None


class Catalog(Driver):
    """A file catalog."""

    @abstractmethod
    def add_files(self, files: Sequence[FileEntry]) -> BulkResult[str, None]:
        """Register files; an identical existing entry succeeds, a different one fails."""

    @abstractmethod
    def add_replicas(self, replicas: Mapping[str, Sequence[str]]) -> BulkResult[str, None]:
        """Record that each LFN has a copy on the named storage elements."""

    @abstractmethod
    def get_replicas(self, lfns: Sequence[str]) -> BulkResult[str, frozenset[str]]:
        """The storage elements holding each LFN."""

    @abstractmethod
    def get_files(self, lfns: Sequence[str]) -> BulkResult[str, FileEntry]:
        """The entry of each LFN."""

    @abstractmethod
    def remove_replicas(self, replicas: Mapping[str, Sequence[str]]) -> BulkResult[str, None]:
        """Forget copies; forgetting a copy that is not recorded succeeds."""

    @abstractmethod
    def remove_files(self, lfns: Sequence[str]) -> BulkResult[str, None]:
        """Remove files and their replicas; removing a missing file succeeds."""

"""The file-catalog contract: logical file names and where their replicas are.

Every call is bulk: it takes many LFNs and returns a
:class:`~dirac_core.errors.BulkResult` with DIRAC's per-item semantics
(re-adding an identical file succeeds, removing a missing file succeeds,
asking for a missing file fails that item with ``NotFound``). LFNs go
through :func:`~dirac_core.model.lfn.normalize_lfn`; an invalid one fails its
item with ``InvalidLFN`` and nothing is done for it.

:meth:`Catalog.acting_as` gives a view of the catalog that checks what an
identity may do (directory modes, ACLs); a refused item fails with
``PermissionDenied``. The catalog itself (identity None) is trusted: the
server and the data manager act through views.

Catalogs with searchable metadata and datasets also implement
:class:`~dirac_core.plugins.metadata.MetadataCatalog`.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence

from attrs import frozen

from dirac_core.errors import BulkResult
from dirac_core.model.identity import Identity
from dirac_core.plugins.driver import Driver

__all__ = ["Catalog", "DirectoryListing", "FileEntry"]


@frozen(kw_only=True)
class FileEntry:
    """A logical file: its name, size, checksum and GUID."""

    lfn: str
    size: int
    checksum: str | None = None
    guid: str | None = None


@frozen(kw_only=True)
class DirectoryListing:
    """The names directly under a directory (full paths), sorted."""

    files: tuple[str, ...] = ()
    subdirectories: tuple[str, ...] = ()


class Catalog(Driver):
    """A file catalog."""

    def acting_as(self, identity: Identity | None) -> Catalog:
        """This catalog as ``identity`` may use it (catalogs without access control: itself)."""
        return self

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

    @abstractmethod
    def exists(self, paths: Sequence[str]) -> BulkResult[str, str | None]:
        """``"file"``, ``"directory"`` or None for each path (a missing path is not a failure)."""

    @abstractmethod
    def create_directories(self, paths: Sequence[str]) -> BulkResult[str, None]:
        """Create directories and their missing parents; an existing one succeeds."""

    @abstractmethod
    def list_directory(self, paths: Sequence[str]) -> BulkResult[str, DirectoryListing]:
        """What is directly under each directory; ``NotFound`` for a missing one."""

    @abstractmethod
    def remove_directories(self, paths: Sequence[str]) -> BulkResult[str, None]:
        """Remove empty directories; a missing one succeeds, a non-empty one fails (``CatalogError``)."""

"""The storage-protocol contract: one way (file, root, https, s3, ...) to reach a storage element.

Paths are absolute paths inside the storage's namespace (the storage
element facade turns an LFN into one). Missing files raise
:class:`~dirac_core.errors.NotFound`; every other failure is a
:class:`~dirac_core.errors.StorageError` carrying the URL.

Optional capabilities are small protocols a driver implements on top of
:class:`StorageProtocol` (checked with ``isinstance``): :class:`Stageable`
for tape storage, :class:`ThirdPartyCopy` for copies the storage makes
itself from another storage's URL, :class:`SpaceReporting` for a storage
that can tell how full it is.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

from attrs import frozen

from dirac_core.errors import NotFound
from dirac_core.plugins.driver import Driver

__all__ = ["FileStat", "Occupancy", "SpaceReporting", "Stageable", "StorageProtocol", "ThirdPartyCopy"]


@frozen(kw_only=True)
class FileStat:
    """What a storage knows of one path."""

    size: int
    is_dir: bool = False
    checksum: str | None = None  # adler32, eight lowercase hex digits, when the storage keeps one


@frozen(kw_only=True)
class Occupancy:
    """How full a storage is, in bytes: ``free`` always, ``total`` when the storage tells."""

    free: int
    total: int | None = None


class StorageProtocol(Driver):
    """Read and write files at one storage endpoint."""

    #: URL scheme this driver speaks (``file``, ``root``, ``davs``, ``s3``, ...).
    scheme: ClassVar[str]

    @abstractmethod
    def url(self, path: str) -> str:
        """The URL of ``path`` in this protocol."""

    @abstractmethod
    def put(self, source: Path, path: str) -> FileStat:
        """Upload a local file to ``path``, creating parents and replacing an old copy."""

    @abstractmethod
    def get(self, path: str, destination: Path) -> FileStat:
        """Download ``path`` into the local file ``destination``."""

    @abstractmethod
    def stat(self, path: str) -> FileStat:
        """Size (and checksum where kept) of ``path``; ``NotFound`` if absent."""

    @abstractmethod
    def remove(self, path: str) -> None:
        """Delete ``path``; a missing file counts as removed."""

    @abstractmethod
    def listdir(self, path: str) -> list[str]:
        """Names directly under the directory ``path``; ``NotFound`` if absent."""

    def exists(self, path: str) -> bool:
        """Whether ``path`` exists (a missing file is ``False``, not an error)."""
        try:
            self.stat(path)
        except NotFound:
            return False
        return True


@runtime_checkable
class Stageable(Protocol):
    """What a protocol of a tape storage element adds: is a file on disk, and ask for it to be."""

    def is_online(self, path: str) -> bool:
        """Whether ``path`` can be read now (on disk, not only on tape); ``NotFound`` if absent."""

    def prepare(self, paths: Sequence[str]) -> None:
        """Ask the storage to bring ``paths`` online (a prestage, such as xroot ``prepare``)."""


@runtime_checkable
class ThirdPartyCopy(Protocol):
    """What a protocol adds when its storage can fetch a file from another storage's URL itself.

    The bytes go from the source straight to this storage (XRootD or HTTP third-party copy,
    an S3 server-side copy, a copy on this machine's file systems), never through a local
    scratch file. The data manager uses it when :meth:`can_copy_from` says yes and falls back
    to download and upload when the copy fails.
    """

    def can_copy_from(self, source_url: str) -> bool:
        """Whether this storage can copy from ``source_url`` (decided from the URL alone, no I/O)."""

    def copy_from(self, source_url: str, path: str) -> FileStat:
        """Copy the file at ``source_url`` to ``path`` (parents created, an old copy replaced).

        Returns the copy's size and, where the storage can tell, its adler32. Raises
        :class:`~dirac_core.errors.NotFound` when the source does not exist,
        :class:`~dirac_core.errors.ChecksumMismatch` when the copy differs from the source, and
        :class:`~dirac_core.errors.StorageError` for any other failure (a URL it cannot copy
        from included); a failed copy leaves nothing at ``path``.
        """


@runtime_checkable
class SpaceReporting(Protocol):
    """What a protocol adds when its storage can tell its free space (DIRAC's ``getOccupancy``).

    Transformations that place data by free space (the ``ByFreeSpace`` splitter) ask for it once
    per splitting cycle; an SE none of whose protocols reports its space is never chosen by them.
    """

    def occupancy(self) -> Occupancy:
        """Free (and total) bytes where this protocol writes; ``StorageError`` when it cannot tell."""

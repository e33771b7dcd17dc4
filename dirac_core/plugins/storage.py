"""The storage-protocol contract: one way (file, root, https, s3, ...) to reach a storage element.

Paths are absolute paths inside the storage's namespace (the storage
element facade turns an LFN into one). Missing files raise
:class:`~dirac_core.errors.NotFound`; every other failure is a
:class:`~dirac_core.errors.StorageError` carrying the URL.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar, Protocol, runtime_checkable

from attrs import frozen

from dirac_core.errors import NotFound
from dirac_core.plugins.driver import Driver

__all__ = ["FileStat", "Stageable", "StorageProtocol"]


@frozen(kw_only=True)
class FileStat:
    """What a storage knows of one path."""

    size: int
    is_dir: bool = False
    checksum: str | None = None  # adler32, eight lowercase hex digits, when the storage keeps one


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

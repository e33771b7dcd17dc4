"""Where a sandbox store keeps its archives: a local directory or a storage element.

A :class:`~dirac_core.wms.sandboxes.SandboxStore` records sandboxes in the
database and hands their bytes to a :class:`SandboxBytes`: one object per VO
and content, named ``<vo>/sha256:<checksum>.<format>``. The store verifies
size and SHA-256 before it calls :meth:`~SandboxBytes.put` and, for bytes that
are not local files, after :meth:`~SandboxBytes.get`; a backend only moves
bytes.

- :class:`DirectoryBytes`: files under a directory (``<root>/<name>``), the
  default; a server's replicas share it on a shared file system.
- :class:`StorageElementBytes`: objects on any storage element
  (``<base path>/<name>``, through its protocols: file, root, s3, https/davs,
  gfal2), with the SE's adler32 verification of every transfer.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING

from dirac_core.errors import NotFound, StorageError
from dirac_core.model.lfn import InvalidLFN, normalize_lfn

if TYPE_CHECKING:
    from dirac_core.dms.storage_element import StorageElement

__all__ = ["DEFAULT_SE_PATH", "DirectoryBytes", "SandboxBytes", "StorageElementBytes"]

#: Where sandboxes go on a storage element unless told otherwise.
DEFAULT_SE_PATH = "/sandboxes"
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}/sha256:[0-9a-f]{64}\.(tar\.bz2|tar\.zst)")


def _checked_name(name: str) -> str:
    """``name`` if it is an object name (``<vo>/sha256:<hex64>.<format>``); ``StorageError`` otherwise."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise StorageError(f"invalid sandbox object name {str(name)[:100]!r}", name=str(name)[:100])
    return name


class SandboxBytes(ABC):
    """The bytes of a sandbox store, by object name (``<vo>/sha256:<checksum>.<format>``).

    Missing objects raise :class:`~dirac_core.errors.NotFound`; every other
    failure is a :class:`~dirac_core.errors.StorageError`. The store owns
    nothing it is given: :meth:`close` releases what the backend opened itself.
    """

    @abstractmethod
    def put(self, source: Path, name: str) -> None:
        """Keep the complete local file ``source`` as ``name``, replacing an older copy.

        ``source`` is a temporary file of the store: a backend may move it away.
        """

    @abstractmethod
    def get(self, name: str, destination: Path) -> None:
        """Copy ``name`` into the local file ``destination`` (its directory exists)."""

    @abstractmethod
    def exists(self, name: str) -> bool:
        """Whether ``name`` is kept."""

    @abstractmethod
    def remove(self, name: str) -> None:
        """Delete ``name``; a missing object counts as removed."""

    def local_path(self, name: str) -> Path | None:
        """The file holding ``name`` when it is on a local file system (read it in place); else None."""
        return None

    def staging_dir(self) -> Path | None:
        """Where the store writes an upload before :meth:`put` (None: the system's temporary
        directory); a directory backend stages beside its files so that ``put`` is a rename."""
        return None

    def close(self) -> None:
        """Release what the backend opened (nothing by default)."""


class DirectoryBytes(SandboxBytes):
    """Files under ``root``: ``<root>/<vo>/sha256:<checksum>.<format>``, renamed into place whole."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def staging_dir(self) -> Path:
        """The root itself (created if needed): a staged upload is renamed, never copied."""
        self.root.mkdir(parents=True, exist_ok=True)
        return self.root

    def _file(self, name: str) -> Path:
        return self.root / _checked_name(name)

    def put(self, source: Path, name: str) -> None:
        target = self._file(name)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(source, target)
                return
            except OSError:  # another file system: copy beside the target, then rename
                pass
            handle, temp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
            try:
                with os.fdopen(handle, "wb") as out, Path(source).open("rb") as src:
                    shutil.copyfileobj(src, out)
                os.replace(temp, target)
            finally:
                if os.path.exists(temp):
                    os.unlink(temp)
        except OSError as exc:
            raise StorageError(f"cannot store sandbox {name} in {self.root}: {exc.strerror or exc}",
                               path=str(target)) from exc

    def get(self, name: str, destination: Path) -> None:
        source = self._file(name)
        try:
            shutil.copyfile(source, destination)
        except FileNotFoundError:
            raise NotFound(f"sandbox object {name} not in {self.root}", path=str(source)) from None
        except OSError as exc:
            raise StorageError(f"cannot read sandbox {name} in {self.root}: {exc.strerror or exc}",
                               path=str(source)) from exc

    def exists(self, name: str) -> bool:
        return self._file(name).is_file()

    def remove(self, name: str) -> None:
        target = self._file(name)
        try:
            target.unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot remove sandbox {name} from {self.root}: {exc.strerror or exc}",
                               path=str(target)) from exc

    def local_path(self, name: str) -> Path:
        return self._file(name)

    def __repr__(self) -> str:
        return f"DirectoryBytes({str(self.root)!r})"


class StorageElementBytes(SandboxBytes):
    """Objects on a storage element, at ``<base_path>/<vo>/sha256:<checksum>.<format>``.

    Every transfer goes through the :class:`~dirac_core.dms.storage_element.StorageElement`
    facade: its access statuses apply, its protocols are tried in order and the
    adler32 of every upload is verified. The SE belongs to the interware (which
    closes it); :meth:`close` leaves it open.
    """

    def __init__(self, se: StorageElement, base_path: str = DEFAULT_SE_PATH) -> None:
        try:
            self.base_path = normalize_lfn(base_path)
        except InvalidLFN as exc:
            raise StorageError(f"invalid sandbox base path on {se.name}: {exc}", se=se.name) from None
        self.se = se

    def lfn(self, name: str) -> str:
        """The path of ``name`` on the SE."""
        return f"{self.base_path}/{_checked_name(name)}"

    def put(self, source: Path, name: str) -> None:
        self.se.put(source, self.lfn(name))

    def get(self, name: str, destination: Path) -> None:
        self.se.get(self.lfn(name), destination)

    def exists(self, name: str) -> bool:
        return self.se.exists(self.lfn(name))

    def remove(self, name: str) -> None:
        self.se.remove(self.lfn(name))

    def __repr__(self) -> str:
        return f"StorageElementBytes({self.se.name!r}, {self.base_path!r})"

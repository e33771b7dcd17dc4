"""Files under a base directory of a file system this machine mounts (scheme ``file``).

:class:`FileStorage` maps the storage path ``/vo/data/f`` to
``<base>/vo/data/f``; paths with ``.`` or ``..`` components are refused
before any I/O, so nothing outside the base is ever touched (symbolic links
placed inside the base by its administrator are followed).

Writes are atomic: :meth:`FileStorage.put` copies into a hidden temporary
file next to the target (``.<name>.dirac-part-*``, never listed), computes
the adler32 while copying, reads the copy back to verify it, and renames it
over the target. Downloads go the same way on the local side, so a failed or
refused :meth:`FileStorage.get` leaves no partial file.

Checksums: the adler32 a ``put`` verified is recorded in the extended
attribute ``user.dirac.adler32`` of the file (the name is configurable;
StoRM's ``user.storm.checksum.adler32`` lets a file system shared with a
StoRM endpoint agree on checksums). That value is the file's reference:
``stat`` reports it, and ``get`` compares the bytes it reads against it and
raises :class:`~dirac_core.errors.ChecksumMismatch` when they differ, so a
file changed behind the driver's back (bit rot, another program writing in place) is
refused instead of served. A file without the attribute (placed by other
means) gets its checksum computed on first ``stat`` or ``get`` and recorded
then. Where the file system has no user extended attributes, checksums are
computed on every ``stat`` and ``get`` cannot detect such changes.

Copies between storages (:class:`~dirac_core.plugins.storage.ThirdPartyCopy`):
a ``file://`` source is a file on this machine, so :meth:`FileStorage.copy_from`
copies it straight into place as ``put`` does (checksummed, read back,
renamed over the target): a *local* server-side copy, with no scratch file.
"""

from __future__ import annotations

import os
import shutil
import stat as stat_mode
from collections.abc import Iterator
from pathlib import Path
from typing import IO, ClassVar, Self

from dirac_core.checksums import adler32_file
from dirac_core.config.sections import FileProtocol, ProtocolSection
from dirac_core.errors import ChecksumMismatch, ConfigError, NotFound, PluginError, StorageError
from dirac_core.plugins.storage import FileStat, Occupancy, StorageProtocol
from dirac_plugins_se._checksum_xattr import read_checksum_xattr, write_checksum_xattr
from dirac_plugins_se._local_files import is_partial, partial_file, write_chunks
from dirac_plugins_se._path_rules import checked_path, join_under

__all__ = ["DEFAULT_CHECKSUM_XATTR", "FileStorage"]

#: The extended attribute holding a file's reference adler32 (eight lowercase hex digits).
DEFAULT_CHECKSUM_XATTR = "user.dirac.adler32"
_CHUNK = 1 << 20


def _read_chunks(source: IO[bytes], chunk_size: int) -> Iterator[bytes]:
    return iter(lambda: source.read(chunk_size), b"")


def _walk(base: Path) -> Iterator[os.DirEntry[str]]:
    """Every regular file under ``base`` (nothing when it does not exist yet)."""
    if not base.is_dir():
        return
    pending = [base]
    while pending:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    yield entry


class FileStorage(StorageProtocol):
    """Files under ``base`` on a mounted file system.

    ``checksum_xattr`` names the extended attribute keeping each file's
    reference adler32 (None: never read or write one). New files get the
    permission bits ``file_mode``. Every failure raises
    :class:`~dirac_core.errors.StorageError` carrying ``url`` (and the OS
    error's ``errno`` when there is one); a missing file raises
    :class:`~dirac_core.errors.NotFound`.

    ``quota`` (bytes) caps what the storage may hold, for a directory given a share of a larger
    file system: its :meth:`occupancy` is then the quota less the bytes under ``base`` (summed
    by walking it), never more than the file system's free space.
    """

    scheme: ClassVar[str] = "file"

    def __init__(self, base: Path | str, *, checksum_xattr: str | None = DEFAULT_CHECKSUM_XATTR,
                 file_mode: int = 0o644, chunk_size: int = _CHUNK, quota: int | None = None) -> None:
        """Raises ``ValueError`` when ``base`` is not absolute or ``chunk_size`` or ``quota`` is
        not positive."""
        base_text = os.fspath(base)
        if not os.path.isabs(base_text):
            raise ValueError(f"the base directory of a file storage must be absolute, not {base_text!r}")
        if chunk_size <= 0:
            raise ValueError(f"chunk_size must be positive, not {chunk_size}")
        if quota is not None and quota <= 0:
            raise ValueError(f"quota must be positive, not {quota}")
        self.quota = quota
        self.base = Path(os.path.normpath(base_text))
        self.checksum_xattr = checksum_xattr
        self.file_mode = file_mode
        self.chunk_size = chunk_size

    @classmethod
    def from_section(cls, section: ProtocolSection) -> Self:
        """The driver for a :class:`~dirac_core.config.sections.FileProtocol` section.

        ``path`` is the base directory. Options: ``checksum_xattr`` (a name,
        or ``""`` to keep no checksum attribute) and ``quota`` (bytes, a positive
        integer). Raises :class:`PluginError` for another kind of section and
        :class:`ConfigError` for a bad option.
        """
        if not isinstance(section, FileProtocol):
            raise PluginError(f"{cls.__name__} needs a FileProtocol section, not {type(section).__name__}",
                              driver=cls.__name__)
        unknown = sorted(set(section.options) - {"checksum_xattr", "quota"})
        if unknown:
            raise ConfigError([(f"options.{key}", "unknown option of a file protocol") for key in unknown])
        xattr = section.options.get("checksum_xattr", DEFAULT_CHECKSUM_XATTR)
        if not isinstance(xattr, str):
            raise ConfigError([("options.checksum_xattr", f"expected a string, got {xattr!r}")])
        if not os.path.isabs(section.path):
            raise ConfigError([("path", f"the base directory must be absolute, not {section.path!r}")])
        quota = section.options.get("quota")
        if quota is not None and (isinstance(quota, bool) or not isinstance(quota, int) or quota <= 0):
            raise ConfigError([("options.quota", f"expected a positive number of bytes, got {quota!r}")])
        return cls(section.path, checksum_xattr=xattr or None, quota=quota)

    # -- paths and errors --------------------------------------------------------

    def occupancy(self) -> Occupancy:
        """Free and total bytes: the file system's under ``base`` (its nearest existing parent),
        or, with a ``quota``, the quota less what ``base`` holds."""
        url = self.url("/")
        where = self.base
        while not where.exists() and where != where.parent:
            where = where.parent
        try:
            disk = shutil.disk_usage(where)
            if self.quota is None:
                return Occupancy(free=disk.free, total=disk.total)
            held = sum(entry.stat().st_size for entry in _walk(self.base))
        except OSError as exc:
            raise self._error("ask the free space of", url, exc) from exc
        return Occupancy(free=max(0, min(disk.free, self.quota - held)), total=self.quota)

    def _local(self, path: str) -> Path:
        return Path(join_under(str(self.base), path))

    def url(self, path: str) -> str:
        """``file://`` followed by the local path (``file:///base/vo/f``); checks ``path``."""
        return f"file://{self._local(path)}"

    def _error(self, action: str, url: str, exc: OSError) -> StorageError:
        reason = exc.strerror or str(exc)
        return StorageError(f"cannot {action} {url}: {reason}", url=url, errno=exc.errno)

    # -- checksum attribute ------------------------------------------------------

    def _recorded_checksum(self, target: int | Path) -> str | None:
        """The reference adler32 recorded on ``target`` (a file or open descriptor), if any."""
        return None if self.checksum_xattr is None else read_checksum_xattr(target, self.checksum_xattr)

    def _record_checksum(self, target: int | Path, checksum: str, *, strict: bool) -> None:
        if self.checksum_xattr is not None:
            write_checksum_xattr(target, self.checksum_xattr, checksum, strict=strict)

    # -- operations --------------------------------------------------------------

    def put(self, source: Path, path: str) -> FileStat:
        """Copy the local ``source`` to ``path`` atomically, creating parent directories.

        The copy's adler32 is computed while writing, verified by reading the
        copy back, recorded, and returned. Raises :class:`StorageError` for an
        unreadable source, a path naming a directory (or the root), a parent
        that is a file, or any write failure; :class:`ChecksumMismatch` when
        the copy reads back differently. The old file stays on any failure.
        """
        path = checked_path(path)
        url = self.url(path)
        if path == "/":
            raise StorageError(f"cannot write the root of {url}", url=url)
        target = self._local(path)
        try:
            src = open(source, "rb")  # noqa: SIM115 - closed by the with block below
        except OSError as exc:
            raise StorageError(f"cannot read local file {source} to upload to {url}: {exc.strerror or exc}",
                               url=url, source=str(source), errno=exc.errno) from exc
        with src:
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                if target.is_dir():
                    raise StorageError(f"cannot write {url}: it is a directory", url=url)
                with partial_file(target) as (out, part):
                    size, checksum = write_chunks(_read_chunks(src, self.chunk_size), out)
                    written = adler32_file(part)
                    if written != checksum:
                        raise ChecksumMismatch(f"the copy written for {url} reads back as {written}, "
                                               f"not {checksum}", url=url, expected=checksum, actual=written)
                    os.chmod(part, self.file_mode)
                    self._record_checksum(part, checksum, strict=True)
                    os.replace(part, target)
            except OSError as exc:
                raise self._error("write", url, exc) from exc
        return FileStat(size=size, checksum=checksum)

    def can_copy_from(self, source_url: str) -> bool:
        """Whether ``source_url`` is a file of this machine (``file:///...``)."""
        return source_url.startswith("file:///")

    def copy_from(self, source_url: str, path: str) -> FileStat:
        """Copy the local file at ``source_url`` to ``path`` as :meth:`put` does.

        Raises :class:`NotFound` when the source does not exist and :class:`StorageError` for a
        source that is not a ``file://`` URL of a regular file, or any failure of :meth:`put`.
        """
        if not self.can_copy_from(source_url):
            raise StorageError(f"cannot copy {source_url} to {self.url(path)}: not a file:// URL",
                               url=self.url(path), source=source_url)
        source = Path(source_url.removeprefix("file://"))
        try:
            is_file = stat_mode.S_ISREG(source.stat().st_mode)
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise NotFound(f"no file {source_url}", url=source_url) from exc
        except OSError as exc:
            raise self._error("read", source_url, exc) from exc
        if not is_file:
            raise StorageError(f"cannot copy {source_url}: not a regular file", url=source_url)
        return self.put(source, path)

    def get(self, path: str, destination: Path) -> FileStat:
        """Copy ``path`` into the local file ``destination`` (replaced atomically).

        The bytes read are checked against the file's recorded adler32.
        Raises :class:`NotFound` for a missing file, :class:`ChecksumMismatch`
        when the bytes differ from the recorded checksum (``destination`` is
        then left untouched and no partial file remains), and
        :class:`StorageError` for a directory or any read/write failure.
        """
        path = checked_path(path)
        url = self.url(path)
        destination = Path(destination)
        try:
            src = open(self._local(path), "rb")  # noqa: SIM115 - closed by the with block below
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise NotFound(f"no file {url}", url=url) from exc
        except IsADirectoryError as exc:
            raise StorageError(f"cannot read {url}: it is a directory", url=url) from exc
        except OSError as exc:
            raise self._error("read", url, exc) from exc
        with src:
            try:
                recorded = self._recorded_checksum(src.fileno())
            except OSError as exc:
                raise self._error("read the checksum of", url, exc) from exc
            try:
                destination.parent.mkdir(parents=True, exist_ok=True)
                with partial_file(destination) as (out, part):
                    size, checksum = write_chunks(_read_chunks(src, self.chunk_size), out)
                    if recorded is not None and checksum != recorded:
                        raise ChecksumMismatch(
                            f"{url} reads with adler32 {checksum} but was stored with {recorded}",
                            url=url, expected=recorded, actual=checksum)
                    os.replace(part, destination)
            except OSError as exc:
                raise self._error(f"download into {destination} from", url, exc) from exc
            if recorded is None:
                self._record_checksum(src.fileno(), checksum, strict=False)
        return FileStat(size=size, checksum=checksum)

    def stat(self, path: str) -> FileStat:
        """Size and adler32 of a file (recorded, else computed and recorded); directories too.

        Raises :class:`NotFound` when nothing is at ``path`` and
        :class:`StorageError` for something that is neither a file nor a
        directory, or an unreadable file.
        """
        path = checked_path(path)
        url = self.url(path)
        local = self._local(path)
        try:
            info = local.stat()
            if stat_mode.S_ISDIR(info.st_mode):
                return FileStat(size=0, is_dir=True)
            if not stat_mode.S_ISREG(info.st_mode):
                raise StorageError(f"{url} is neither a file nor a directory", url=url)
            checksum = self._recorded_checksum(local)
            if checksum is None:
                checksum = adler32_file(local)
                self._record_checksum(local, checksum, strict=False)
        except (FileNotFoundError, NotADirectoryError) as exc:
            raise NotFound(f"no file {url}", url=url) from exc
        except OSError as exc:
            raise self._error("stat", url, exc) from exc
        return FileStat(size=info.st_size, checksum=checksum)

    def remove(self, path: str) -> None:
        """Delete the file at ``path``; a missing one counts as removed.

        Raises :class:`StorageError` for a directory or a failed unlink.
        """
        path = checked_path(path)
        url = self.url(path)
        try:
            self._local(path).unlink()
        except (FileNotFoundError, NotADirectoryError):
            return
        except IsADirectoryError as exc:
            raise StorageError(f"cannot remove {url}: it is a directory", url=url) from exc
        except OSError as exc:
            raise self._error("remove", url, exc) from exc

    def listdir(self, path: str) -> list[str]:
        """Sorted names under the directory ``path`` (unfinished transfers hidden).

        Raises :class:`NotFound` when the directory does not exist and
        :class:`StorageError` when ``path`` is a file or cannot be read.
        """
        path = checked_path(path)
        url = self.url(path)
        try:
            with os.scandir(self._local(path)) as entries:
                names = [entry.name for entry in entries if not is_partial(entry.name)]
        except FileNotFoundError as exc:
            raise NotFound(f"no directory {url}", url=url) from exc
        except NotADirectoryError as exc:
            raise StorageError(f"cannot list {url}: it is not a directory", url=url) from exc
        except OSError as exc:
            raise self._error("list", url, exc) from exc
        return sorted(names)

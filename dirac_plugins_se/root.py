"""XRootD storage (scheme ``root``) through the XRootD client's Python bindings (PyPI ``xrootd``).

:class:`RootStorage` maps the storage path ``/vo/f`` to
``root://host:port//<base>/vo/f`` (the double slash of grid XRootD URLs).
The bindings are imported on first use, so this module imports, and its
configuration validates, where they are not installed; using the driver
then raises :class:`~dirac_core.errors.PluginUnavailable` naming the
``xrootd`` extra.

Every transfer is verified end to end with adler32: an upload computes the
checksum of the bytes it sends and compares it with the server's
(``query checksum``) once the file is closed, a download computes the
checksum of the bytes it receives and compares it with the server's. On a
mismatch the bad copy (remote after ``put``, local after ``get``) is removed
and :class:`~dirac_core.errors.ChecksumMismatch` is raised, carrying
``url``, ``expected`` and ``actual``. The server must be configured with
``xrootd.chksum adler32``. Transfers go in ``chunk_size`` pieces (16 MiB)
with one request in flight while the previous piece is checksummed and
written, which keeps them at or above ``xrdcp``'s rate (benchmarks/).

It is a :class:`~dirac_core.plugins.storage.ThirdPartyCopy`: ``copy_from`` has
this server pull a ``root://`` source itself (see :mod:`dirac_plugins_se._root_tpc`).

It is :class:`~dirac_core.plugins.storage.Stageable`: ``is_online`` reads the
server's offline flag and ``prepare`` sends an XRootD prestage request, for
tape-backed endpoints (CTA, EOS with a tape back end, dCache's xroot door).

Errors: a missing file raises :class:`~dirac_core.errors.NotFound`; a
server refusing an operation raises :class:`~dirac_core.errors.StorageError`
with ``url``, the XRootD ``errno`` and the server's message; a server that
cannot be reached raises :class:`StorageError` saying so (the endpoint is
probed with a plain TCP connection before the first operation and after
any failure that is not an answer of the server, so a closed port fails in
milliseconds instead of XRootD's minutes of reconnection attempts).
"""

from __future__ import annotations

import contextlib
import logging
import os
import posixpath
import socket
import threading
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, BinaryIO, ClassVar, Self

from dirac_core.config.sections import ProtocolSection, RootProtocol
from dirac_core.errors import ChecksumMismatch, ConfigError, NotFound, PluginError, StorageError
from dirac_core.plugins.groups import PluginGroup
from dirac_core.plugins.loading import import_backend
from dirac_core.plugins.storage import FileStat, Occupancy, StorageProtocol
from dirac_plugins_se._local_files import new_partial
from dirac_plugins_se._path_rules import checked_path, join_under
from dirac_plugins_se._root_answers import parse_checksum, parse_space
from dirac_plugins_se._root_tpc import XRD_NOT_FOUND, third_party_copy

__all__ = ["RootStorage"]

log = logging.getLogger(__name__)

#: XrdCl's errErrorResponse: the status carries an answer of the server (not a client-side failure).
_XRD_SERVER_ANSWER = 400
_CHUNK = 16 << 20
_OPTIONS = frozenset({"timeout", "chunk_size", "connect_timeout"})


class _Backend:
    """The three modules of the bindings this driver uses, imported together on first use."""

    def __init__(self) -> None:
        def load(module: str) -> Any:
            return import_backend(module, group=PluginGroup.STORAGE_PROTOCOLS, name="root")

        self.client = load("XRootD.client")
        self.flags = load("XRootD.client.flags")
        self.utils = load("XRootD.client.utils")


class RootStorage(StorageProtocol):
    """Files of one XRootD endpoint under ``base_path``.

    ``timeout`` bounds each XRootD request (seconds; a chunk of
    ``chunk_size`` bytes is one request), ``connect_timeout`` the TCP probe
    of the endpoint. Thread-safe: one XRootD ``FileSystem`` is shared.
    The constructor raises ``ValueError`` for a non-positive size or time.
    """

    scheme: ClassVar[str] = "root"

    def __init__(self, host: str, *, port: int = 1094, base_path: str = "/", timeout: int = 300,
                 chunk_size: int = _CHUNK, connect_timeout: float = 5.0) -> None:
        if not host:
            raise ValueError("an XRootD storage needs a host")
        if chunk_size <= 0 or timeout <= 0 or connect_timeout <= 0:
            raise ValueError("chunk_size, timeout and connect_timeout must be positive")
        self.host = host
        self.port = port
        self.base_path = checked_path(base_path)
        self.timeout = timeout
        self.chunk_size = chunk_size
        self.connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._backend: _Backend | None = None
        self._fs: Any = None
        self._reachable = False

    @classmethod
    def from_section(cls, section: ProtocolSection) -> Self:
        """The driver for a :class:`~dirac_core.config.sections.RootProtocol` section.

        ``host``, ``port`` and ``path`` (the base path) come from the
        section; options ``timeout``, ``chunk_size`` (integers) and
        ``connect_timeout`` (a number). Raises :class:`PluginError` for another
        kind of section and :class:`ConfigError` for a missing host or a bad
        option.
        """
        if not isinstance(section, RootProtocol):
            raise PluginError(f"{cls.__name__} needs a RootProtocol section, not {type(section).__name__}",
                              driver=cls.__name__)
        problems = [(f"options.{key}", "unknown option of a root protocol")
                    for key in sorted(set(section.options) - _OPTIONS)]
        if not section.host:
            problems.append(("host", "an XRootD endpoint needs a host"))
        values: dict[str, Any] = {}
        for key in sorted(_OPTIONS & set(section.options)):
            value = section.options[key]
            wanted = (int, float) if key == "connect_timeout" else (int,)
            if isinstance(value, bool) or not isinstance(value, wanted) or value <= 0:
                problems.append((f"options.{key}", f"expected a positive number, got {value!r}"))
            values[key] = value
        if problems:
            raise ConfigError(problems)
        try:
            return cls(section.host, port=section.port or 1094, base_path=section.path, **values)
        except StorageError as exc:
            raise ConfigError([("path", str(exc))]) from exc

    # -- URLs, connection and errors -----------------------------------------------

    @property
    def endpoint(self) -> str:
        """``root://host:port`` of the server."""
        return f"root://{self.host}:{self.port}"

    def _remote(self, path: str) -> str:
        return join_under(self.base_path, path)

    def url(self, path: str) -> str:
        """``root://host:port//<base>/<path>``; raises :class:`StorageError` for an invalid path."""
        return f"{self.endpoint}/{self._remote(path)}"

    def _probe(self) -> str | None:
        """Why the endpoint cannot be reached over TCP, or None when it accepts connections."""
        try:
            with socket.create_connection((self.host, self.port), timeout=self.connect_timeout):
                return None
        except OSError as exc:
            return exc.strerror or str(exc)

    def _unreachable(self, url: str, why: str) -> StorageError:
        return StorageError(f"XRootD server {self.host}:{self.port} is unreachable ({why}) for {url}",
                            url=url, host=self.host, port=self.port)

    def _connect(self, url: str) -> tuple[_Backend, Any]:
        """The bindings and the shared ``FileSystem``, probing the endpoint on first use."""
        with self._lock:
            if self._backend is None:
                self._backend = _Backend()
            if not self._reachable:
                why = self._probe()
                if why is not None:
                    raise self._unreachable(url, why)
                self._reachable = True
            if self._fs is None:
                self._fs = self._backend.client.FileSystem(self.endpoint)
            return self._backend, self._fs

    def _error(self, status: Any, action: str, url: str) -> StorageError | NotFound:
        """The exception for a failed XRootD ``status``: NotFound, unreachable or a StorageError."""
        message = " ".join(str(status.message).split()).removeprefix("[ERROR] ")
        message = message.removeprefix("Server responded with an error: ")
        if status.errno == XRD_NOT_FOUND:
            return NotFound(f"no such file {url}", url=url)
        if status.code != _XRD_SERVER_ANSWER:
            why = self._probe()
            if why is not None:
                self._reachable = False
                return self._unreachable(url, why)
        return StorageError(f"cannot {action} {url}: {message}", url=url, errno=int(status.errno),
                            code=int(status.code))

    def _checked(self, result: tuple[Any, Any], action: str, url: str) -> Any:
        status, response = result
        if not status.ok:
            raise self._error(status, action, url)
        return response

    # -- checksums -------------------------------------------------------------------

    def remote_checksum(self, path: str) -> str:
        """The adler32 the server computes (or has recorded) for ``path``.

        Raises :class:`NotFound` for a missing file and :class:`StorageError`
        when the server keeps no adler32 (no ``xrootd.chksum adler32``).
        """
        url = self.url(path)
        backend, fs = self._connect(url)
        response = self._checked(fs.query(backend.flags.QueryCode.CHECKSUM, self._remote(path),
                                          timeout=self.timeout), "checksum", url)
        return parse_checksum(response, url)

    def _remove_quietly(self, path: str) -> None:
        with contextlib.suppress(StorageError):
            self.remove(path)

    def occupancy(self) -> Occupancy:
        """Free and total bytes of the space holding ``base_path`` (a ``kXR_Qspace`` query on it,
        or on its nearest existing parent: the server answers 0 free for a missing path)."""
        url = self.url("/")
        backend, fs = self._connect(url)
        where = self.base_path
        while where != "/" and not fs.stat(where, timeout=self.timeout)[0].ok:
            where = posixpath.dirname(where)
        answer = self._checked(fs.query(backend.flags.QueryCode.SPACE, where, timeout=self.timeout),
                               "ask the free space of", url)
        return parse_space(answer, url)

    # -- operations --------------------------------------------------------------------

    def put(self, source: Path, path: str) -> FileStat:
        """Upload the local ``source`` to ``path``, creating parents and replacing an old copy.

        The old copy is deleted first; the new file is opened with
        persist-on-successful-close, so an upload cut short leaves nothing
        behind. Raises :class:`StorageError` for an
        unreadable source or a refused write, and :class:`ChecksumMismatch`
        (after removing the copy) when the server's adler32 differs from the
        bytes sent.
        """
        url = self.url(path)
        try:
            src = open(source, "rb", buffering=0)  # noqa: SIM115 - closed by the with block below
        except OSError as exc:
            raise StorageError(f"cannot read local file {source} to upload to {url}: {exc.strerror or exc}",
                               url=url, source=str(source)) from exc
        with src:
            backend, _ = self._connect(url)
            self._clear_for_upload(path, url)
            flags, mode = backend.flags.OpenFlags, backend.flags.AccessMode
            remote = backend.client.File()
            self._checked(remote.open(url, flags.DELETE | flags.MAKEPATH | flags.POSC,
                                      mode.UR | mode.UW | mode.GR | mode.OR, timeout=self.timeout),
                          "create", url)
            try:
                try:
                    size, value = self._upload(backend, src, remote, url)
                finally:
                    closed = remote.close(timeout=self.timeout)
                self._checked(closed, "close", url)
            except OSError as exc:
                self._remove_quietly(path)
                raise StorageError(f"cannot read local file {source} while uploading to {url}: "
                                   f"{exc.strerror or exc}", url=url, source=str(source)) from exc
            except StorageError:
                self._remove_quietly(path)  # a closed file persists, however short it is
                raise
        sent = f"{value & 0xFFFFFFFF:08x}"
        stored = self.remote_checksum(path)
        if stored != sent:
            self._remove_quietly(path)
            raise ChecksumMismatch(f"{url} was stored with adler32 {stored} but {sent} was sent",
                                   url=url, expected=sent, actual=stored)
        return FileStat(size=size, checksum=sent)

    def _upload(self, backend: _Backend, src: BinaryIO, remote: Any, url: str) -> tuple[int, int]:
        """Write ``src`` into the open ``remote``; (size, adler32 of the bytes sent).

        One write is in flight while the next chunk is read and checksummed,
        so the local disk and the network work at the same time. Raises
        ``OSError`` from reading ``src`` and :class:`StorageError` for a
        refused write.
        """
        size, value = 0, 1
        in_flight: tuple[Any, bytes] | None = None  # the handler, and the bytes it must keep alive

        def landed() -> None:
            if in_flight is not None:
                status, _, _ = in_flight[0].wait()
                self._checked((status, None), "write", url)

        try:
            while chunk := src.read(self.chunk_size):
                value = zlib.adler32(chunk, value)
                landed()
                handler = backend.utils.AsyncResponseHandler()
                in_flight = None
                self._checked((remote.write(chunk, size, timeout=self.timeout, callback=handler), None),
                              "write", url)
                in_flight = (handler, chunk)
                size += len(chunk)
            landed()
            in_flight = None
        finally:
            if in_flight is not None:  # a failure left a write in flight: let it land before closing
                in_flight[0].wait()
        return size, value

    def _clear_for_upload(self, path: str, url: str) -> None:
        """Delete an old copy of ``path``; :class:`StorageError` when ``path`` is a directory.

        A file truncated in place would keep the checksum XRootD cached in an
        extended attribute (invalidated by the modification time in whole
        seconds), so a rewrite within a second would be checked against the
        old checksum: every upload starts from a new file.
        """
        backend, fs = self._connect(url)
        status, info = fs.stat(self._remote(path), timeout=self.timeout)
        if not status.ok:
            if status.errno == XRD_NOT_FOUND:
                return
            raise self._error(status, "stat", url)
        if int(info.flags) & int(backend.flags.StatInfoFlags.IS_DIR):
            raise StorageError(f"cannot write {url}: it is a directory", url=url)
        self.remove(path)

    def get(self, path: str, destination: Path) -> FileStat:
        """Download ``path`` into the local file ``destination`` (replaced only on success).

        The server's adler32 is asked for while the bytes arrive. Raises
        :class:`NotFound` for a missing file, :class:`ChecksumMismatch` when
        the bytes received differ from the server's checksum, and
        :class:`StorageError` for anything else; on failure ``destination``
        is left as it was and no partial file remains.
        """
        url = self.url(path)
        destination = Path(destination)
        backend, fs = self._connect(url)
        remote = backend.client.File()
        self._checked(remote.open(url, backend.flags.OpenFlags.READ, timeout=self.timeout), "open", url)
        try:
            part = new_partial(destination, url)
        except StorageError:
            remote.close(timeout=self.timeout)
            raise
        try:
            asked = backend.utils.AsyncResponseHandler()
            submitted = fs.query(backend.flags.QueryCode.CHECKSUM, self._remote(path),
                                 timeout=self.timeout, callback=asked)
            try:
                if not submitted.ok:
                    raise self._error(submitted, "checksum", url)
                size, value = self._download(backend, remote, url, part)
            finally:
                remote.close(timeout=self.timeout)
                status, response, _ = asked.wait() if submitted.ok else (submitted, None, None)
            stored = parse_checksum(self._checked((status, response), "checksum", url), url)
            received = f"{value & 0xFFFFFFFF:08x}"
            if stored != received:
                raise ChecksumMismatch(f"{url} has adler32 {stored} on the server but {received} arrived",
                                       url=url, expected=stored, actual=received)
            try:
                os.replace(part, destination)
            except OSError as exc:
                raise StorageError(f"cannot write {destination} from {url}: {exc.strerror or exc}",
                                   url=url, destination=str(destination)) from exc
        finally:
            part.unlink(missing_ok=True)
        return FileStat(size=size, checksum=received)

    def _download(self, backend: _Backend, remote: Any, url: str, part: Path) -> tuple[int, int]:
        """Read the open ``remote`` into the local file ``part``; (size, adler32).

        The next chunk is requested before the current one is checksummed
        and written, so the network and the local disk work at the same time.
        """
        size, value = 0, 1

        def ask(offset: int) -> Any:
            handler = backend.utils.AsyncResponseHandler()
            status = remote.read(offset, self.chunk_size, timeout=self.timeout, callback=handler)
            if not status.ok:
                raise self._error(status, "read", url)
            return handler

        pending: Any = None
        try:
            with part.open("wb") as out:
                pending = ask(0)
                while True:
                    status, chunk, _ = pending.wait()
                    pending = None
                    chunk = self._checked((status, chunk), "read", url)
                    if not chunk:
                        break
                    pending = ask(size + len(chunk))
                    value = zlib.adler32(chunk, value)
                    out.write(chunk)
                    size += len(chunk)
        except OSError as exc:
            raise StorageError(f"cannot write {part} while downloading {url}: {exc.strerror or exc}",
                               url=url, destination=str(part)) from exc
        finally:
            if pending is not None:  # a failure left a read in flight: let it land before closing
                pending.wait()
        return size, value

    def stat(self, path: str) -> FileStat:
        """Size, directory flag and (for files) the server's adler32 of ``path``.

        Raises :class:`NotFound` when nothing is there, :class:`StorageError`
        for a refused request.
        """
        url = self.url(path)
        backend, fs = self._connect(url)
        info = self._checked(fs.stat(self._remote(path), timeout=self.timeout), "stat", url)
        if int(info.flags) & int(backend.flags.StatInfoFlags.IS_DIR):
            return FileStat(size=0, is_dir=True)
        return FileStat(size=int(info.size), checksum=self.remote_checksum(path))

    def remove(self, path: str) -> None:
        """Delete the file ``path``; a missing one counts as removed. Raises :class:`StorageError`."""
        url = self.url(path)
        _, fs = self._connect(url)
        with contextlib.suppress(NotFound):
            self._checked(fs.rm(self._remote(path), timeout=self.timeout), "remove", url)

    def listdir(self, path: str) -> list[str]:
        """Sorted names directly under the directory ``path``.

        Raises :class:`NotFound` when it does not exist and :class:`StorageError`
        when it is a file or the listing is refused.
        """
        url = self.url(path)
        _, fs = self._connect(url)
        listing = self._checked(fs.dirlist(self._remote(path), timeout=self.timeout), "list", url)
        return sorted(str(entry.name) for entry in listing)

    def can_copy_from(self, source_url: str) -> bool:
        """Whether ``source_url`` is an XRootD URL (``root://`` or ``xroot://``)."""
        return source_url.startswith(("root://", "xroot://"))

    def copy_from(self, source_url: str, path: str) -> FileStat:
        """Third-party copy of ``source_url`` to ``path`` (parents made, an old copy replaced).

        Raises :class:`NotFound` for a missing source, :class:`ChecksumMismatch` (copy removed)
        when the adler32 of the servers differ, :class:`StorageError` when a server refuses (no
        ``ofs.tpc``, say) or the copy fails (nothing left at ``path``).
        """
        url = self.url(path)
        if not self.can_copy_from(source_url):
            raise StorageError(f"cannot copy {source_url} to {url}: not an XRootD URL", url=url)
        backend, _ = self._connect(url)
        self._clear_for_upload(path, url)
        result = third_party_copy(backend.client.CopyProcess(), source_url, url, timeout=self.timeout)
        if not result.status.ok:
            self._remove_quietly(path)
            raise result.error(source_url, url)
        return FileStat(size=result.size, checksum=result.target_checksum)

    def is_online(self, path: str) -> bool:
        """Whether ``path`` can be read now: the server does not flag it offline (only on tape).

        Raises :class:`NotFound` when it does not exist and :class:`StorageError`
        for a refused request.
        """
        url = self.url(path)
        backend, fs = self._connect(url)
        info = self._checked(fs.stat(self._remote(path), timeout=self.timeout), "stat", url)
        return not int(info.flags) & int(backend.flags.StatInfoFlags.OFFLINE)

    def prepare(self, paths: Sequence[str]) -> None:
        """Ask the server to bring ``paths`` online (xrootd ``prepare -s``, a prestage).

        A disk-only server accepts the request and does nothing. Raises
        :class:`StorageError` when the server refuses it; nothing is asked for
        an empty ``paths``.
        """
        if not paths:
            return
        url = self.url(paths[0])
        backend, fs = self._connect(url)
        remotes = [self._remote(p) for p in paths]
        response = self._checked(fs.prepare(remotes, backend.flags.PrepareFlags.STAGE, timeout=self.timeout),
                                 "prepare", url)
        log.debug("prepare of %d file(s) at %s: request %r", len(paths), self.endpoint, response)

    def close(self) -> None:
        """Forget the connection (the bindings close it when it is no longer used)."""
        with self._lock:
            self._fs = None
            self._reachable = False

"""Any storage gfal2 reaches (``root://``, ``davs://``, ``srm://``, ``gsiftp://``, ``file://``).

:class:`Gfal2Storage` maps the storage path ``/vo/data/f`` to
``<base_url>/vo/data/f`` and speaks through the gfal2 library's Python
bindings, found by :func:`~dirac_plugins_se._gfal2_import.import_gfal2`
(Debian's ``python3-gfal2`` outside the virtual environment included) on
first use; the protocol plugins (``gfal2-plugin-file``, ``-xrootd``,
``-http``, ...) decide which URLs work. The driver's ``scheme`` is the
scheme of its base URL.

Checksums (adler32): :meth:`Gfal2Storage.put` computes the local file's
checksum and has gfal2 compare the stored copy's checksum with it
(``set_checksum``); a mismatch removes the copy and raises
:class:`~dirac_core.errors.ChecksumMismatch`. :meth:`Gfal2Storage.get`
asks the storage for the file's checksum first and has gfal2 verify the
downloaded copy against it; a mismatch leaves no partial file. A storage
that computes checksums from the current bytes cannot notice bytes changed
at rest; one that keeps a checksum per file can. For a ``file://`` base
URL, ``checksum_xattr`` names the extended attribute in which the local
file system keeps each file's adler32 (``user.dirac.adler32``, as
:class:`~dirac_plugins_se.file.FileStorage` writes it; StoRM's
``user.storm.checksum.adler32``): ``put`` records it and ``stat`` and
``get`` use it as the reference, so bytes changed at rest are refused. The
attribute is read and written on the local file directly: gfal2's Python
bindings append a NUL to the values they write and read values stored
without one past their end.

Copies between storages (:class:`~dirac_core.plugins.storage.ThirdPartyCopy`):
:meth:`Gfal2Storage.copy_from` has gfal2 copy a source URL straight to this
storage, server to server: ``root://`` to ``root://`` as an XRootD
third-party copy, ``https``/``davs`` to ``https``/``davs`` as an HTTP
third-party copy (pull; gfal2's streamed fallback is switched off, so the
bytes never pass through this process), ``file://`` to ``file://`` as a copy
on this machine. gfal2 compares the adler32 of both ends. No credential is
delegated for HTTP copies (``Credential: none``; XrdHttp refuses gridsite
delegation) unless ``tpc_delegation`` is set.

A gfal2 context is made per thread on first use (one more for third-party
copies) and freed by :meth:`close`.
Errors: gfal2's ``GError`` becomes :class:`~dirac_core.errors.NotFound`
(``ENOENT``) or :class:`~dirac_core.errors.StorageError` carrying ``url``
and ``errno``; a refused or timed-out connection says the endpoint is
unreachable.

Settings that only the environment controls, which this driver never
changes: the CA folder of ``https``/``davs`` (``X509_CERT_DIR``, default
``/etc/grid-security/certificates``), and how long XRootD keeps trying an
endpoint that does not answer (``XRD_CONNECTIONWINDOW`` and
``XRD_CONNECTIONRETRY``; by default minutes).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat as stat_mode
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

from dirac_core.checksums import adler32_file, normalise_adler32
from dirac_core.config.sections import Gfal2Protocol, ProtocolSection
from dirac_core.errors import ChecksumMismatch, ConfigError, DiracError, NotFound, PluginError, StorageError
from dirac_core.plugins.storage import FileStat, StorageProtocol
from dirac_plugins_se._checksum_xattr import read_checksum_xattr, write_checksum_xattr
from dirac_plugins_se._gfal2_import import SYSTEM_DIRS, import_gfal2
from dirac_plugins_se._local_files import partial_file
from dirac_plugins_se._path_rules import checked_path

__all__ = ["ContextOption", "Gfal2Storage"]

_T = TypeVar("_T")
#: The value of one gfal2 setting.
ContextOption = str | int | bool | Sequence[str]
_UNREACHABLE = frozenset({errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT,
                          errno.EHOSTDOWN, errno.ECOMM})
_NO_CHECKSUM = frozenset({errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS, errno.EPROTONOSUPPORT})
#: The source schemes a third-party copy to each scheme can read.
_TPC_SOURCES = {"root": ("root", "xroot"), "xroot": ("root", "xroot"), "davs": ("davs", "https"),
                "https": ("davs", "https"), "file": ("file",)}
#: gfal2 settings of the context that makes third-party copies: never stream through this process.
_TPC_OPTIONS = {("HTTP PLUGIN", "ENABLE_STREAM_COPY"): False,
                ("HTTP PLUGIN", "ENABLE_FALLBACK_TPC_COPY"): False}
_HEADERS = ("HTTP PLUGIN", "HEADERS")
#: Protocols whose absolute paths follow a double slash (``root://host//data``).
_DOUBLE_SLASH = frozenset({"root", "roots", "xroot", "xroots"})


def _local_url(path: Path | str) -> str:
    # gfal2's file plugin takes everything after "file://" as the path, unquoted: no Path.as_uri()
    return "file://" + os.path.abspath(path)


def _local_path(url: str) -> str:
    return url.removeprefix("file://")


def _is_checksum_mismatch(exc: Any) -> bool:
    # gfal2 says "... CHECKSUM MISMATCH ..."; XRootD's copy (root://) says "[ERROR] CheckSum error"
    message = str(getattr(exc, "message", exc)).upper()
    return "CHECKSUM MISMATCH" in message or "CHECKSUM ERROR" in message


class Gfal2Storage(StorageProtocol):
    """Files under ``base_url`` through gfal2.

    ``transfer_timeout`` bounds one copy (seconds). ``checksum_xattr`` is
    described in the module documentation. ``context_options`` are gfal2
    settings applied to every context, keyed by ``(group, key)`` as in
    gfal2's configuration files (``/etc/gfal2.d``), e.g.
    ``{("X509", "CERT"): "/path/usercert.pem", ("X509", "KEY"): "/path/userkey.pem"}``;
    each value a string, boolean, integer or list of strings. ``search_dirs``
    are the folders where the gfal2 extension is looked for when ``import
    gfal2`` fails. ``tpc_delegation`` lets gfal2 delegate an X.509 proxy to
    the server of an HTTP third-party copy (``Credential: gridsite``).
    """

    def __init__(self, *, base_url: str, checksum_xattr: str | None = None, transfer_timeout: int = 3600,
                 context_options: Mapping[tuple[str, str], ContextOption] | None = None,
                 search_dirs: Sequence[str] = SYSTEM_DIRS, tpc_delegation: bool = False) -> None:
        """Raises ``ValueError`` for a base URL without scheme, a non-positive timeout, or
        ``checksum_xattr`` with another scheme than ``file``."""
        protocol = urlsplit(base_url).scheme
        if not protocol:
            raise ValueError(f"the base URL of a gfal2 storage needs a scheme: {base_url!r}")
        if checksum_xattr is not None and protocol != "file":
            raise ValueError(f"checksum_xattr needs a file:// base URL, not {base_url!r}")
        if transfer_timeout <= 0:
            raise ValueError(f"transfer_timeout must be positive, not {transfer_timeout}")
        self.base_url = base_url
        self.protocol = protocol
        self.checksum_xattr = checksum_xattr
        self.transfer_timeout = transfer_timeout
        self.context_options = dict(context_options or {})
        self.search_dirs = tuple(search_dirs)
        self.tpc_delegation = tpc_delegation
        self._local = threading.local()
        self._contexts: list[Any] = []
        self._lock = threading.Lock()

    # one driver class speaks many schemes: each instance reports its base URL's, so the class
    # attribute of the contract becomes a read-only property here
    @property
    def scheme(self) -> str:  # type: ignore[override]
        """The URL scheme this instance speaks (``root``, ``davs``, ``file``, ...)."""
        return self.protocol

    @classmethod
    def from_section(cls, section: ProtocolSection) -> Self:
        """The driver for a :class:`~dirac_core.config.sections.Gfal2Protocol` section.

        The base URL is ``<protocol>://<host>[:<port>]<path>`` (``//<path>``
        for XRootD; ``<wsurl>?SFN=<path>`` when ``wsurl`` is set, for SRM).
        Options: ``checksum_xattr`` (a name; ``file`` only), ``transfer_timeout``
        (seconds) and ``tpc_delegation`` (a boolean). Raises :class:`PluginError` for another kind of section
        and :class:`ConfigError` for a bad option.
        """
        if not isinstance(section, Gfal2Protocol):
            raise PluginError(f"{cls.__name__} needs a Gfal2Protocol section, not {type(section).__name__}",
                              driver=cls.__name__)
        problems: list[tuple[str, str]] = []
        xattr = section.options.get("checksum_xattr", "")
        if not isinstance(xattr, str):
            problems.append(("options.checksum_xattr", f"expected a string, got {xattr!r}"))
            xattr = ""
        elif xattr and section.protocol != "file":
            problems.append(("options.checksum_xattr", "only a file protocol keeps checksums in attributes"))
            xattr = ""
        timeout = section.options.get("transfer_timeout", 3600)
        if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout <= 0:
            problems.append(("options.transfer_timeout", f"expected a positive integer, got {timeout!r}"))
            timeout = 1
        delegation = section.options.get("tpc_delegation", False)
        if not isinstance(delegation, bool):
            problems.append(("options.tpc_delegation", f"expected a boolean, got {delegation!r}"))
        problems.extend((f"options.{key}", "unknown option of a gfal2 protocol") for key in sorted(
            set(section.options) - {"checksum_xattr", "transfer_timeout", "tpc_delegation"}))
        if problems:
            raise ConfigError(problems)
        netloc = section.host + (f":{section.port}" if section.port else "")
        path = "/" + section.path.lstrip("/")
        if section.wsurl:
            base = f"{section.protocol}://{netloc}/{section.wsurl.lstrip('/')}?SFN={path}"
        elif section.protocol in _DOUBLE_SLASH:
            base = f"{section.protocol}://{netloc}/{path}"
        else:
            base = f"{section.protocol}://{netloc}{path}"
        return cls(base_url=base, checksum_xattr=xattr or None, transfer_timeout=timeout,
                   tpc_delegation=delegation is True)

    # -- backend -----------------------------------------------------------------

    def _gfal2(self) -> ModuleType:
        return import_gfal2(self.search_dirs)

    def _context(self, *, tpc: bool = False) -> Any:
        """This thread's gfal2 context (``tpc``: the one that makes third-party copies)."""
        name = "tpc_context" if tpc else "context"
        context = getattr(self._local, name, None)
        if context is None:
            context = self._gfal2().creat_context()
            for (group, key), value in (self._tpc_options() if tpc else self.context_options).items():
                if isinstance(value, bool):
                    context.set_opt_boolean(group, key, value)
                elif isinstance(value, int):
                    context.set_opt_integer(group, key, value)
                elif isinstance(value, str):
                    context.set_opt_string(group, key, value)
                else:
                    context.set_opt_string_list(group, key, list(value))
            setattr(self._local, name, context)
            with self._lock:
                self._contexts.append(context)
        return context

    def _tpc_options(self) -> dict[tuple[str, str], ContextOption]:
        """The settings of the third-party copy context: ours over the configured ones."""
        options = {**self.context_options, **_TPC_OPTIONS}
        if not self.tpc_delegation:
            given = options.get(_HEADERS, ())
            headers = [given] if isinstance(given, str) else given if isinstance(given, Sequence) else []
            options[_HEADERS] = [*headers, "Credential: none"]
        return options

    def close(self) -> None:
        """Free every gfal2 context this driver made; later calls make new ones."""
        with self._lock:
            contexts, self._contexts = self._contexts, []
        self._local = threading.local()
        for context in contexts:
            context.free()

    def _call(self, action: str, url: str, fn: Callable[..., _T], *args: Any) -> _T:
        """``fn(*args)``, with gfal2's ``GError`` translated for ``action`` on ``url``."""
        gerror = self._gfal2().GError
        try:
            return fn(*args)
        except gerror as exc:
            raise self._translate(exc, action, url) from exc

    def _translate(self, exc: Any, action: str, url: str) -> DiracError:
        code = int(getattr(exc, "code", 0) or 0)
        message = str(getattr(exc, "message", "") or exc)
        if code == errno.ENOENT:
            return NotFound(f"no file {url}", url=url)
        if "certificate" in message.lower():  # davix reports TLS failures as EHOSTDOWN too
            return StorageError(f"cannot {action} {url}: TLS certificate problem: {message}",
                                url=url, errno=code)
        if code in _UNREACHABLE:
            return StorageError(f"cannot {action} {url}: the endpoint is unreachable: {message}",
                                url=url, errno=code)
        if code in (errno.EACCES, errno.EPERM):
            return StorageError(f"cannot {action} {url}: permission denied: {message}", url=url, errno=code)
        return StorageError(f"cannot {action} {url}: {message}", url=url, errno=code)

    # -- paths and checksums -----------------------------------------------------

    def url(self, path: str) -> str:
        """``<base_url>/<path>``; checks ``path``."""
        tail = checked_path(path).lstrip("/")
        return self.base_url + ("" if self.base_url.endswith("/") else "/") + tail

    def _reference_checksum(self, context: Any, url: str) -> str | None:
        """The adler32 the storage keeps for ``url`` (the xattr first), or None if it has none."""
        gerror = self._gfal2().GError
        recorded = self._recorded_checksum(url)
        if recorded is not None:
            return recorded
        try:
            return normalise_adler32(context.checksum(url, "ADLER32"))
        except gerror as exc:
            if int(exc.code) in _NO_CHECKSUM:
                return None
            raise self._translate(exc, "compute the checksum of", url) from exc

    def _recorded_checksum(self, url: str) -> str | None:
        """The adler32 kept in ``checksum_xattr`` of the local file behind ``url``, if any."""
        if self.checksum_xattr is None:
            return None
        try:
            return read_checksum_xattr(_local_path(url), self.checksum_xattr)
        except FileNotFoundError as exc:
            raise NotFound(f"no file {url}", url=url) from exc
        except OSError as exc:
            raise StorageError(f"cannot read the checksum of {url}: {exc.strerror or exc}",
                               url=url, errno=exc.errno) from exc

    def _transfer_parameters(self, checksum: str | None, context: Any = None) -> Any:
        """Copy settings: overwrite, create parents, and verify the copy against ``checksum`` if given."""
        params = (context or self._context()).transfer_parameters()
        params.overwrite = True
        params.create_parent = True
        params.timeout = self.transfer_timeout
        if checksum is not None:
            # "target": gfal2 compares the copy's checksum with the one given (the source's)
            params.set_checksum(self._gfal2().checksum_mode.target, "ADLER32", checksum)
        return params

    # -- operations --------------------------------------------------------------

    def put(self, source: Path, path: str) -> FileStat:
        """Copy the local ``source`` to ``path`` (parents created, an old copy replaced).

        An old copy is deleted before the new one is written (servers that
        overwrite in place, XRootD among them, may otherwise keep serving
        the old file's cached checksum), so a failed put leaves no file.

        Raises :class:`StorageError` for an unreadable source or a failed
        copy, and :class:`ChecksumMismatch` (after removing the bad copy)
        when the stored copy's adler32 differs from the source's.
        """
        path = checked_path(path)
        url = self.url(path)
        if path == "/":
            raise StorageError(f"cannot write the root of {url}", url=url)
        try:
            size = os.stat(source).st_size
            checksum = adler32_file(source)
        except OSError as exc:
            raise StorageError(f"cannot read local file {source} to upload to {url}: {exc.strerror or exc}",
                               url=url, source=str(source), errno=exc.errno) from exc
        context = self._context()
        parent = self.url(path.rsplit("/", 1)[0] or "/")
        self._call("create the parent directories of", url, context.mkdir_rec, parent, 0o755)
        # an old copy goes first: XRootD, overwriting a file in place, would keep its cached checksum
        self.remove(path)
        params = self._transfer_parameters(checksum)
        try:
            self._call("upload", url, context.filecopy, params, _local_url(source), url)
        except StorageError as exc:
            if not _is_checksum_mismatch(exc):
                raise
            self.remove(path)
            raise ChecksumMismatch(f"the copy stored at {url} does not have the source's adler32 {checksum}: "
                                   f"{exc}", url=url, expected=checksum) from exc
        self._record(url, checksum)
        return FileStat(size=size, checksum=checksum)

    def _record(self, url: str, checksum: str) -> None:
        """Keep ``checksum`` in ``checksum_xattr`` of the local file behind ``url`` (if one is set)."""
        if self.checksum_xattr is None:
            return
        try:
            write_checksum_xattr(_local_path(url), self.checksum_xattr, checksum, strict=True)
        except OSError as exc:
            raise StorageError(f"cannot record the checksum of {url}: {exc.strerror or exc}",
                               url=url, errno=exc.errno) from exc

    def can_copy_from(self, source_url: str) -> bool:
        """Whether gfal2 copies ``source_url`` here server to server (see the module documentation)."""
        return urlsplit(source_url).scheme in _TPC_SOURCES.get(self.protocol, ())

    def copy_from(self, source_url: str, path: str) -> FileStat:
        """Copy ``source_url`` to ``path`` server to server (parents made, an old copy replaced).

        gfal2 compares the adler32 of source and copy. Raises :class:`NotFound` when the source
        does not exist, :class:`ChecksumMismatch` when the checksums differ and
        :class:`StorageError` for a source it cannot copy from or a failed copy; a failure leaves
        nothing at ``path``.
        """
        path = checked_path(path)
        url = self.url(path)
        if path == "/" or not self.can_copy_from(source_url):
            raise StorageError(f"gfal2 cannot copy {source_url} to {url} server to server", url=url)
        context = self._context(tpc=True)
        self._call("create the parent directories of", url, context.mkdir_rec,
                   self.url(path.rsplit("/", 1)[0] or "/"), 0o755)
        self.remove(path)
        params = self._transfer_parameters(None, context)
        params.set_checksum(self._gfal2().checksum_mode.both, "ADLER32", "")
        try:
            self._call(f"copy {source_url} to", url, context.filecopy, params, source_url, url)
        except (StorageError, NotFound) as exc:
            with contextlib.suppress(StorageError):
                self.remove(path)
            if _is_checksum_mismatch(exc):
                raise ChecksumMismatch(f"the copy of {source_url} at {url} differs from it: {exc}",
                                       url=url) from exc
            if isinstance(exc, NotFound) or "status code 404" in str(exc):
                raise NotFound(f"no file {source_url} to copy to {url}: {exc}", url=source_url) from exc
            raise
        info = self._call("stat", url, context.stat, url)
        checksum = self._reference_checksum(context, url)
        if checksum is not None:
            self._record(url, checksum)
        return FileStat(size=int(info.st_size), checksum=checksum)

    def get(self, path: str, destination: Path) -> FileStat:
        """Copy ``path`` into the local file ``destination``, verified against the storage's adler32.

        Raises :class:`NotFound` for a missing file, :class:`ChecksumMismatch`
        when the copy's checksum differs (``destination`` untouched, no
        partial file left) and :class:`StorageError` for a directory or any
        other failure. Without a checksum from the storage the copy is not
        verified and its locally computed adler32 is returned.
        """
        path = checked_path(path)
        url = self.url(path)
        destination = Path(destination)
        context = self._context()
        info = self._call("stat", url, context.stat, url)
        if stat_mode.S_ISDIR(info.st_mode):
            raise StorageError(f"cannot read {url}: it is a directory", url=url)
        expected = self._reference_checksum(context, url)
        try:
            destination.parent.mkdir(parents=True, exist_ok=True)
            with partial_file(destination) as (_, part):
                params = self._transfer_parameters(expected)
                try:
                    self._call("download", url, context.filecopy, params, url, _local_url(part))
                except StorageError as exc:
                    if expected and _is_checksum_mismatch(exc):
                        raise ChecksumMismatch(f"{url} downloads with an adler32 other than the storage's "
                                               f"{expected}: {exc}", url=url, expected=expected) from exc
                    raise
                checksum = expected or adler32_file(part)
                size = part.stat().st_size
                os.replace(part, destination)
        except OSError as exc:
            raise StorageError(f"cannot download {url} into {destination}: {exc.strerror or exc}",
                               url=url, destination=str(destination), errno=exc.errno) from exc
        return FileStat(size=size, checksum=checksum)

    def stat(self, path: str) -> FileStat:
        """Size and adler32 (None where the storage offers none) of ``path``; directories too.

        Raises :class:`NotFound` when nothing is at ``path``.
        """
        path = checked_path(path)
        url = self.url(path)
        context = self._context()
        info = self._call("stat", url, context.stat, url)
        if stat_mode.S_ISDIR(info.st_mode):
            return FileStat(size=0, is_dir=True)
        return FileStat(size=int(info.st_size), checksum=self._reference_checksum(context, url))

    def remove(self, path: str) -> None:
        """Delete the file at ``path``; a missing one counts as removed.

        Raises :class:`StorageError` for a directory or a refused unlink.
        """
        path = checked_path(path)
        url = self.url(path)
        try:
            self._call("remove", url, self._context().unlink, url)
        except NotFound:
            return

    def listdir(self, path: str) -> list[str]:
        """Sorted names under the directory ``path``.

        Raises :class:`NotFound` when it does not exist and
        :class:`StorageError` when it is a file or cannot be listed.
        """
        path = checked_path(path)
        url = self.url(path)
        names = self._call("list", url, self._context().listdir, url)
        return sorted(name for name in names if name not in (".", ".."))

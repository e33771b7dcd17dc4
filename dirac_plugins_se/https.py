"""HTTPS and WebDAV storage (schemes ``https`` and ``davs``) through httpx.

:class:`HttpsStorage` maps the storage path ``/vo/f`` to
``https://host:port/<base>/vo/f``: ``GET`` downloads, ``PUT`` uploads (the
server creates missing parents, as grid HTTP endpoints such as XrdHttp,
dCache and StoRM do), ``DELETE`` removes, ``PROPFIND`` lists a directory and
tells a directory from a file in ``stat`` (plain HTTP cannot: XrdHttp
answers a ``HEAD`` of either with a length) and ``HEAD`` gives a file's
checksum. :class:`DavsStorage` speaks WebDAV proper: its URLs are
``davs://`` and it creates parents with ``MKCOL`` before an upload.

Transfers stream in ``chunk_size`` pieces and are verified with adler32.
The server's checksum is asked for with a ``HEAD`` carrying ``Want-Digest:
adler32``; a server that answers with a ``Digest: adler32=...`` header is
trusted for its side. A download compares the bytes received with the
``Digest`` of a ``HEAD`` sent just before the ``GET`` (or, without one, with
the ``Content-Length``). An upload compares the checksum of the bytes sent
with the ``Digest`` of a ``HEAD`` after the ``PUT``; a server that gives none
has the file read back and checksummed (``readback=False`` compares sizes
only). On a mismatch the bad copy is removed and
:class:`~dirac_core.errors.ChecksumMismatch` (``url``, ``expected``,
``actual``) is raised; a failed download leaves the local destination as it
was.

Third-party copy (HTTP-TPC, :class:`~dirac_core.plugins.storage.ThirdPartyCopy`):
``copy_from`` sends a WebDAV ``COPY`` with a ``Source`` header and the server
pulls the file from the source (XrdHttp with ``libXrdHttpTPC``, dCache, StoRM).

``digest=False`` never sends ``Want-Digest``: for servers that mishandle
it. XrdHttp computes a checksum it has not cached yet asynchronously, which
its HTTP/1 front end handles badly (with 5.5: hangs, spurious 404s, and
crashes when the connection closes before the answer); a checksum it has
cached (computed once through ``root://``, say) is answered reliably. Even
with ``digest=True`` the driver never sends ``Want-Digest`` with a ``GET``,
only with a ``HEAD``.

Authentication: the server is verified against ``ca`` (a PEM file or a
hashed CA directory; None trusts the system's CAs); a client certificate
(``cert_file``, ``key_file``; a proxy may hold both) and a bearer token
(``token``, or ``token_file`` re-read at every request) are optional.

Errors: a 404 raises :class:`~dirac_core.errors.NotFound`; other error
statuses raise :class:`~dirac_core.errors.StorageError` with ``url``,
``status`` and an excerpt of the body; a server that cannot be reached raises
:class:`StorageError` saying it is unreachable.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar, Self
from urllib.parse import quote, urlsplit

import attrs
import httpx

from dirac_core.config.sections import DavsProtocol, HttpsProtocol, ProtocolSection
from dirac_core.errors import ChecksumMismatch, ConfigError, NotFound, PluginError, StorageError
from dirac_core.plugins.storage import FileStat, StorageProtocol
from dirac_plugins_se._http_auth import BearerToken, tls_context, tls_failure
from dirac_plugins_se._local_files import new_partial
from dirac_plugins_se._path_rules import checked_path, join_under
from dirac_plugins_se._webdav import (
    PROPFIND_BODY,
    TPC_HEADERS,
    WANT_DIGEST,
    DavEntry,
    mkcol_ancestors,
    parse_digest,
    parse_multistatus,
    tpc_outcome,
)

__all__ = ["DavsStorage", "HttpsStorage", "parse_digest"]

_CHUNK = 1 << 20
_MAX_REDIRECTS = 5
#: option name -> (accepted types, constructor keyword)
_OPTIONS: dict[str, tuple[tuple[type, ...], str]] = {
    "ca": ((str,), "ca"), "cert": ((str,), "cert_file"), "key": ((str,), "key_file"),
    "token_file": ((str,), "token_file"), "timeout": ((int, float), "timeout"),
    "chunk_size": ((int,), "chunk_size"), "readback": ((bool,), "readback"),
    "keepalive": ((bool,), "keepalive"), "digest": ((bool,), "digest"),
}


class HttpsStorage(StorageProtocol):
    """Files of one HTTPS endpoint under ``base_path`` (plain HTTP verbs, PROPFIND to list).

    ``timeout`` bounds each network wait (seconds). ``digest`` asks the
    server for adler32 checksums (``Want-Digest``), ``readback`` reads an
    upload back when the server gives none, ``keepalive`` reuses
    connections (False: one connection per request, closed by the client
    once the answer is complete). ``transport`` replaces the network
    (tests). The constructor raises ``ValueError`` for a bad size or time
    and :class:`StorageError` when credential files cannot be loaded.
    Thread-safe (one httpx client).
    """

    scheme: ClassVar[str] = "https"
    section_type: ClassVar[type[ProtocolSection]] = HttpsProtocol

    def __init__(self, host: str, *, port: int = 443, base_path: str = "/", ca: str | None = None,
                 cert_file: str | None = None, key_file: str | None = None, token: str | None = None,
                 token_file: str | None = None, timeout: float = 60.0, chunk_size: int = _CHUNK,
                 digest: bool = True, readback: bool = True, keepalive: bool = True,
                 transport: httpx.BaseTransport | None = None) -> None:
        if not host:
            raise ValueError(f"an {self.scheme} storage needs a host")
        if chunk_size <= 0 or timeout <= 0:
            raise ValueError("chunk_size and timeout must be positive")
        self.host, self.port = host, port
        self.base_path = checked_path(base_path)
        self.chunk_size = chunk_size
        self.readback = readback
        auth = BearerToken(token, token_file) if token or token_file else None
        self.digest, self.keepalive = digest, keepalive
        # without keepalive the client closes each connection once it has the whole answer (a
        # "Connection: close" request lets XrdHttp 5.5 free a connection an asynchronous answer
        # is still to be written to)
        limits = httpx.Limits() if keepalive else httpx.Limits(max_keepalive_connections=0)
        self._client = httpx.Client(verify=tls_context(ca, cert_file, key_file), auth=auth,
                                    timeout=httpx.Timeout(timeout), transport=transport,
                                    follow_redirects=True, limits=limits)

    @classmethod
    def from_section(cls, section: ProtocolSection) -> Self:
        """The driver for an ``https`` (or, for :class:`DavsStorage`, ``davs``) protocol section.

        ``host``, ``port`` and ``path`` (the base path) come from the
        section; options: ``ca``, ``cert``, ``key``, ``token_file`` (paths),
        ``timeout`` (seconds), ``chunk_size`` (bytes), ``digest``,
        ``readback`` and ``keepalive`` (booleans).
        Raises :class:`PluginError` for another kind of section and
        :class:`ConfigError` for a missing host or a bad option.
        """
        if not isinstance(section, cls.section_type):
            raise PluginError(f"{cls.__name__} needs a {cls.section_type.__name__} section, "
                              f"not {type(section).__name__}", driver=cls.__name__)
        problems = [(f"options.{key}", f"unknown option of an {cls.scheme} protocol")
                    for key in sorted(set(section.options) - set(_OPTIONS))]
        if not section.host:
            problems.append(("host", f"an {cls.scheme} endpoint needs a host"))
        values: dict[str, Any] = {}
        for key, (types, keyword) in _OPTIONS.items():
            if key in section.options:
                value = section.options[key]
                if not isinstance(value, types) or (bool not in types and isinstance(value, bool)):
                    problems.append((f"options.{key}", f"expected {' or '.join(t.__name__ for t in types)}, "
                                                       f"got {value!r}"))
                values[keyword] = value
        if problems:
            raise ConfigError(problems)
        try:
            return cls(section.host, port=section.port or 443, base_path=section.path, **values)
        except (ValueError, StorageError) as exc:
            raise ConfigError([("", str(exc))]) from exc

    # -- URLs and errors ------------------------------------------------------------------

    def _remote(self, path: str) -> str:
        return join_under(self.base_path, path)

    def _wire(self, remote: str) -> str:
        return f"https://{self.host}:{self.port}{quote(remote)}"

    def url(self, path: str) -> str:
        """``<scheme>://host:port/<base>/<path>``; raises :class:`StorageError` for an invalid path."""
        return f"{self.scheme}://{self.host}:{self.port}{self._remote(path)}"

    def _transport_error(self, exc: httpx.HTTPError, action: str, url: str) -> StorageError:
        tls = tls_failure(exc)
        if tls is not None:
            return StorageError(f"TLS with {self.host}:{self.port} failed for {url}: {tls}", url=url,
                                host=self.host, port=self.port)
        if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
            return StorageError(f"{self.scheme} server {self.host}:{self.port} is unreachable ({exc}) "
                                f"for {url}", url=url, host=self.host, port=self.port)
        return StorageError(f"cannot {action} {url}: {type(exc).__name__}: {exc}", url=url)

    @staticmethod
    def _status_error(response: httpx.Response, action: str, url: str, *,
                      not_found: bool = True) -> StorageError | NotFound:
        if response.status_code == 404 and not_found:
            return NotFound(f"no such file or directory {url}", url=url)
        with contextlib.suppress(httpx.ResponseNotRead, httpx.StreamError):
            body = " ".join(response.text.split())[:300]
            return StorageError(f"cannot {action} {url}: HTTP {response.status_code} {body}".rstrip(),
                                url=url, status=response.status_code, body=body)
        return StorageError(f"cannot {action} {url}: HTTP {response.status_code}", url=url,
                            status=response.status_code)

    def _request(self, method: str, remote: str, *, action: str, url: str,
                 headers: Mapping[str, str] | None = None, content: bytes | None = None) -> httpx.Response:
        try:
            return self._client.request(method, self._wire(remote), headers=headers, content=content)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, action, url) from exc

    # -- directory entries ----------------------------------------------------------------

    def _propfind(self, remote: str, *, depth: int, url: str) -> list[DavEntry]:
        response = self._request("PROPFIND", remote, action="list" if depth else "stat", url=url,
                                 headers={"Depth": str(depth), "Content-Type": "application/xml"},
                                 content=PROPFIND_BODY)
        if response.status_code != 207:
            raise self._status_error(response, "list" if depth else "stat", url)
        return parse_multistatus(response.content, url)

    def _stat_propfind(self, remote: str, url: str) -> FileStat:
        wanted = remote.rstrip("/") or "/"
        for entry in self._propfind(remote, depth=0, url=url):
            if entry.path == wanted:
                return FileStat(size=0, is_dir=True) if entry.is_dir else FileStat(size=entry.size)
        raise StorageError(f"the PROPFIND answer for {url} does not describe it", url=url)

    def listdir(self, path: str) -> list[str]:
        """Sorted names directly under the directory ``path`` (``PROPFIND``, ``Depth: 1``).

        Raises :class:`NotFound` when it does not exist and :class:`StorageError`
        when it is a file or the server refuses.
        """
        remote, url = self._remote(path), self.url(path)
        names, itself = [], None
        for entry in self._propfind(remote, depth=1, url=url):
            if entry.path == remote:
                itself = entry
            elif entry.path.rsplit("/", 1)[0] == remote.rstrip("/"):
                names.append(entry.path.rsplit("/", 1)[1])
        if itself is not None and not itself.is_dir:
            raise StorageError(f"cannot list {url}: it is not a directory", url=url)
        return sorted(names)

    def _head(self, remote: str, url: str) -> httpx.Response:
        """A ``HEAD`` of ``remote`` with ``Want-Digest: adler32``."""
        return self._request("HEAD", remote, action="stat", url=url, headers=WANT_DIGEST)

    def _server_checksum(self, remote: str, url: str) -> str | None:
        """The adler32 the server gives for ``remote`` (None: ``digest`` off, or no answer).

        Raises :class:`NotFound` when the server says nothing is there.
        """
        if not self.digest:
            return None
        head = self._head(remote, url)
        if head.status_code == 404:
            raise self._status_error(head, "stat", url)
        return parse_digest(head.headers.get("digest")) if head.is_success else None

    def stat(self, path: str) -> FileStat:
        """Size and kind of ``path`` from ``PROPFIND`` (``Depth: 0``); for a file, its adler32 from ``HEAD``.

        Plain HTTP cannot tell a directory from a file (XrdHttp answers a
        ``HEAD`` of either with a length), hence WebDAV's ``PROPFIND`` even for
        ``https``. The checksum is None when the server does not answer
        ``Want-Digest: adler32``. Raises :class:`NotFound` when nothing is
        there and :class:`StorageError` otherwise.
        """
        remote, url = self._remote(path), self.url(path)
        found = self._stat_propfind(remote, url)
        if found.is_dir:
            return found
        return attrs.evolve(found, checksum=self._server_checksum(remote, url))

    def remove(self, path: str) -> None:
        """``DELETE`` the file ``path``; a missing one counts as removed. Raises :class:`StorageError`."""
        self._delete(self._remote(path), self.url(path))

    def _delete(self, remote: str, url: str) -> None:
        response = self._request("DELETE", remote, action="remove", url=url)
        if not response.is_success and response.status_code != 404:
            raise self._status_error(response, "remove", url)

    # -- transfers ------------------------------------------------------------------------

    def _make_parents(self, remote: str, url: str) -> None:
        """Nothing: plain HTTPS servers create the parents of a ``PUT`` themselves."""

    def _mkcol_parents(self, remote: str, url: str) -> None:
        """``MKCOL`` the missing ancestors of ``remote``; :class:`StorageError` when one is refused."""
        refused = mkcol_ancestors(
            lambda folder: self._request("MKCOL", folder, action="create the parent of", url=url), remote)
        if refused is not None:
            folder, response = refused
            raise self._status_error(response, f"create the directory {folder} for", url, not_found=False)

    def put(self, source: Path, path: str) -> FileStat:
        """Stream the local ``source`` to ``path`` with ``PUT``, replacing (first deleting) an old copy.

        Redirections (a head node sending the upload to a disk server) are
        followed with the file sent again from its start. Raises
        :class:`StorageError` for an unreadable source, a ``path`` that is a
        directory or a refused upload (a copy cut short is deleted), and
        :class:`ChecksumMismatch` (after deleting the copy) when the server's
        checksum (or the read-back bytes) differs from the bytes sent.
        """
        remote, url = self._remote(path), self.url(path)
        try:
            src = open(source, "rb")  # noqa: SIM115 - closed by the with block below
            size = os.fstat(src.fileno()).st_size
        except OSError as exc:
            raise StorageError(f"cannot read local file {source} to upload to {url}: {exc.strerror or exc}",
                               url=url, source=str(source)) from exc
        sent = 1

        def chunks() -> Iterator[bytes]:
            nonlocal sent
            src.seek(0)
            sent = 1
            while chunk := src.read(self.chunk_size):
                sent = zlib.adler32(chunk, sent)
                yield chunk

        with src:
            self._clear_for_upload(remote, url)
            self._make_parents(remote, url)
            target = httpx.URL(self._wire(remote))
            for _ in range(_MAX_REDIRECTS + 1):
                try:
                    response = self._client.put(target, content=chunks(), follow_redirects=False,
                                                headers={"Content-Length": str(size)})
                except (httpx.HTTPError, OSError) as exc:
                    with contextlib.suppress(StorageError):
                        self._delete(remote, url)
                    if isinstance(exc, httpx.HTTPError):
                        raise self._transport_error(exc, "upload", url) from exc
                    raise StorageError(f"cannot read local file {source} while uploading to {url}: "
                                       f"{exc.strerror or exc}", url=url, source=str(source)) from exc
                if not response.is_redirect:
                    break
                target = response.url.join(response.headers["location"])
            else:
                raise StorageError(f"cannot upload {url}: more than {_MAX_REDIRECTS} redirections", url=url)
        if not response.is_success:
            raise self._status_error(response, "upload", url, not_found=False)
        expected = f"{sent & 0xFFFFFFFF:08x}"
        self._verify_upload(remote, url, size=size, expected=expected)
        return FileStat(size=size, checksum=expected)

    def _clear_for_upload(self, remote: str, url: str) -> None:
        """Delete an old copy at ``remote``; :class:`StorageError` when it is a directory.

        Servers that truncate a file in place may keep its cached checksum
        (XrdHttp does, for a rewrite within the same second), so every
        upload starts from a new file.
        """
        try:
            found = self._stat_propfind(remote, url)
        except NotFound:
            return
        if found.is_dir:
            raise StorageError(f"cannot write {url}: it is a directory", url=url)
        self._delete(remote, url)

    def _verify_upload(self, remote: str, url: str, *, size: int, expected: str) -> None:
        """Compare the stored copy with what was sent; delete it and raise on a difference."""
        stored = self._server_checksum(remote, url)
        problem = None
        if stored is not None:
            if stored != expected:
                problem = f"{url} was stored with adler32 {stored} but {expected} was sent"
        elif self.readback:
            with tempfile.TemporaryDirectory(prefix="dirac-readback-") as folder:
                stored = self._download(remote, url, Path(folder) / "copy", expected=None).checksum
            if stored != expected:
                problem = f"{url} reads back with adler32 {stored} but {expected} was sent"
        else:
            stored_size = self._stat_propfind(remote, url).size
            if stored_size != size:
                problem = f"{url} was stored with {stored_size} bytes but {size} were sent"
                expected, stored = str(size), str(stored_size)
        if problem is not None:
            with contextlib.suppress(StorageError):
                self._delete(remote, url)
            raise ChecksumMismatch(problem, url=url, expected=expected, actual=stored)

    def get(self, path: str, destination: Path) -> FileStat:
        """Stream ``path`` into the local file ``destination`` (replaced only on success).

        With ``digest``, the server's checksum comes from a ``HEAD`` with
        ``Want-Digest`` before the ``GET``. Raises :class:`NotFound` for a
        missing file, :class:`ChecksumMismatch` when the bytes differ from
        the server's ``Digest`` (or their number from its
        ``Content-Length``), :class:`StorageError` otherwise; on
        failure ``destination`` is left as it was.
        """
        remote, url = self._remote(path), self.url(path)
        destination = Path(destination)
        stored = self._server_checksum(remote, url)
        part = new_partial(destination, url)
        try:
            stat = self._download(remote, url, part, expected=stored)
            os.replace(part, destination)
        except OSError as exc:
            raise StorageError(f"cannot write {destination} from {url}: {exc.strerror or exc}",
                               url=url, destination=str(destination)) from exc
        finally:
            part.unlink(missing_ok=True)
        return stat

    def _download(self, remote: str, url: str, target: Path, *, expected: str | None) -> FileStat:
        """``GET`` into ``target``; check the bytes against ``expected`` (an adler32) and the length."""
        size, value = 0, 1
        try:
            with self._client.stream("GET", self._wire(remote)) as response:
                if not response.is_success:
                    response.read()
                    raise self._status_error(response, "download", url)
                length = response.headers.get("content-length")
                with target.open("wb") as out:
                    for chunk in response.iter_bytes(self.chunk_size):
                        value = zlib.adler32(chunk, value)
                        out.write(chunk)
                        size += len(chunk)
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, "download", url) from exc
        received = f"{value & 0xFFFFFFFF:08x}"
        if expected is not None and expected != received:
            raise ChecksumMismatch(f"{url} has adler32 {expected} on the server but {received} arrived",
                                   url=url, expected=expected, actual=received)
        if length is not None and length.isdigit() and int(length) != size:
            raise ChecksumMismatch(f"{url} announced {length} bytes but {size} arrived",
                                   url=url, expected=length, actual=str(size))
        return FileStat(size=size, checksum=received)

    # -- third-party copy (HTTP-TPC, pull mode) ---------------------------------------------

    def can_copy_from(self, source_url: str) -> bool:
        """Whether ``source_url`` is an ``https://`` or ``davs://`` URL (the server pulls it)."""
        return source_url.startswith(("https://", "davs://"))

    def copy_from(self, source_url: str, path: str) -> FileStat:
        """HTTP third-party copy: a WebDAV ``COPY`` of ``path`` with ``Source: <source_url>``.

        The server fetches the source itself and streams progress markers; the answer's last line
        says ``success`` or ``failure: <why>``. No credential is delegated (``Credential: none``):
        the server reads the source as itself. Parents are made with ``MKCOL``, an old copy is
        deleted first. Returns the copy's size and the server's adler32 (None without ``digest``
        or a ``Digest`` answer). Raises :class:`NotFound` when the source is missing and
        :class:`StorageError` when the server refuses or the copy fails (nothing left at ``path``).
        """
        remote, url = self._remote(path), self.url(path)
        if not self.can_copy_from(source_url):
            raise StorageError(f"cannot copy {source_url} to {url}: not an https or davs URL", url=url)
        self._clear_for_upload(remote, url)
        self._mkcol_parents(remote, url)
        try:
            self._pull(remote, url, source_url)
        except (StorageError, NotFound):
            with contextlib.suppress(StorageError):
                self._delete(remote, url)
            raise
        return FileStat(size=self._stat_propfind(remote, url).size,
                        checksum=self._server_checksum(remote, url))

    def _pull(self, remote: str, url: str, source_url: str) -> None:
        """Send the ``COPY`` and read its answer to the end; raise unless it ends in ``success``."""
        parts = urlsplit(source_url)  # our URLs are not quoted (see url()); the header must be
        headers = {**TPC_HEADERS, "Source": f"https://{parts.netloc}{quote(parts.path)}"}
        try:
            with self._client.stream("COPY", self._wire(remote), headers=headers) as response:
                if response.status_code not in (201, 202):
                    response.read()
                    raise self._status_error(response, f"copy {source_url} to", url, not_found=False)
                outcome = tpc_outcome(response.iter_lines())
        except httpx.HTTPError as exc:
            raise self._transport_error(exc, f"copy {source_url} to", url) from exc
        if outcome.lower().startswith("success"):
            return
        if "status code 404" in outcome:
            raise NotFound(f"no file {source_url} to copy to {url}: {outcome}", url=source_url)
        raise StorageError(f"third-party copy of {source_url} to {url} failed: "
                           f"{outcome or 'the answer ended without saying how'}", url=url, source=source_url)

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()


class DavsStorage(HttpsStorage):
    """Files of one WebDAV endpoint (``davs://``): as :class:`HttpsStorage`, with ``MKCOL`` for parents."""

    scheme: ClassVar[str] = "davs"
    section_type: ClassVar[type[ProtocolSection]] = DavsProtocol

    def _make_parents(self, remote: str, url: str) -> None:
        """``MKCOL`` the missing ancestors of ``remote`` (WebDAV servers do not create them)."""
        self._mkcol_parents(remote, url)

"""The WebDAV and RFC 3230 pieces of the HTTPS storage drivers: PROPFIND answers, ``Digest`` headers,
and the answer of an HTTP third-party ``COPY``."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree

import attrs
import httpx

from dirac_core.checksums import normalise_adler32
from dirac_core.errors import StorageError

__all__ = ["PROPFIND_BODY", "TPC_HEADERS", "WANT_DIGEST", "DavEntry", "mkcol_ancestors", "parse_digest",
           "parse_multistatus", "tpc_outcome"]

_DAV = "{DAV:}"
#: The body of a PROPFIND asking for what the drivers use: kind and length.
PROPFIND_BODY = (b'<?xml version="1.0" encoding="utf-8"?>\n<D:propfind xmlns:D="DAV:"><D:prop>'
                 b"<D:resourcetype/><D:getcontentlength/></D:prop></D:propfind>")
#: The request header asking for an adler32 ``Digest`` (RFC 3230).
WANT_DIGEST = {"Want-Digest": "adler32"}
#: Headers of a third-party ``COPY`` besides ``Source``: delegate no credential (XrdHttp refuses
#: gridsite delegation; StoRM wants ``X-No-Delegate``), and no server-side checksum demand (dCache
#: wants it said; the copy is checked afterwards).
TPC_HEADERS = {"Credential": "none", "X-No-Delegate": "true", "RequireChecksumVerification": "false"}


def parse_digest(header: str | None) -> str | None:
    """The adler32 in an RFC 3230 ``Digest`` header (``adler32=1a2b3c4d, md5=...``), or None."""
    for item in (header or "").split(","):
        name, _, value = item.strip().partition("=")
        if name.strip().lower() == "adler32":
            with contextlib.suppress(ValueError):
                return normalise_adler32(value)
    return None


@attrs.frozen
class DavEntry:
    """One ``response`` of a PROPFIND answer."""

    path: str
    is_dir: bool
    size: int


def parse_multistatus(body: bytes, url: str) -> list[DavEntry]:
    """The entries of a WebDAV ``multistatus`` document; :class:`StorageError` when malformed."""
    try:
        # the answer comes from the storage we verified over TLS; expat limits entity expansion
        root = ElementTree.fromstring(body)  # noqa: S314
    except ElementTree.ParseError as exc:
        raise StorageError(f"malformed PROPFIND answer for {url}: {exc}", url=url) from exc
    entries = []
    for response in root.iter(f"{_DAV}response"):
        href = response.findtext(f"{_DAV}href", default="").strip()
        collection = response.find(f".//{_DAV}resourcetype/{_DAV}collection") is not None
        length = response.findtext(f".//{_DAV}getcontentlength", default="0").strip()
        path = unquote(urlsplit(href).path).rstrip("/") or "/"
        entries.append(DavEntry(path=path, is_dir=collection, size=int(length) if length.isdigit() else 0))
    return entries


def mkcol_ancestors(mkcol: Callable[[str], httpx.Response], remote: str) -> tuple[str, httpx.Response] | None:
    """``MKCOL`` the missing ancestors of ``remote`` through ``mkcol``, asking from the nearest one up.

    201 means created and 405 means it exists; 409 means its own parent is missing, so the
    ancestors above are made first. Returns the folder and answer of the first other answer
    (a refusal), or None when every ancestor exists.
    """
    missing: list[str] = []
    parent = remote.rsplit("/", 1)[0]
    while parent:
        response = mkcol(parent)
        if response.status_code == 409:
            missing.append(parent)
            parent = parent.rsplit("/", 1)[0]
            continue
        if response.status_code not in (201, 405):
            return parent, response
        break
    for folder in reversed(missing):
        response = mkcol(folder)
        if response.status_code not in (201, 405):
            return folder, response
    return None


def tpc_outcome(lines: Iterable[str]) -> str:
    """The last non-empty line of a third-party ``COPY`` answer (``success: ...``/``failure: ...``).

    The answer is a stream of performance markers (``Perf Marker`` ... ``End``) followed by the
    outcome; the empty string when the stream ended without one.
    """
    outcome = ""
    for line in lines:
        if line.strip():
            outcome = line.strip()
    return "" if outcome == "End" else outcome

"""The WebDAV and RFC 3230 pieces of the HTTPS storage drivers: PROPFIND answers and ``Digest`` headers."""

from __future__ import annotations

import contextlib
from urllib.parse import unquote, urlsplit
from xml.etree import ElementTree

import attrs

from dirac_core.checksums import normalise_adler32
from dirac_core.errors import StorageError

__all__ = ["PROPFIND_BODY", "WANT_DIGEST", "DavEntry", "parse_digest", "parse_multistatus"]

_DAV = "{DAV:}"
#: The body of a PROPFIND asking for what the drivers use: kind and length.
PROPFIND_BODY = (b'<?xml version="1.0" encoding="utf-8"?>\n<D:propfind xmlns:D="DAV:"><D:prop>'
                 b"<D:resourcetype/><D:getcontentlength/></D:prop></D:propfind>")
#: The request header asking for an adler32 ``Digest`` (RFC 3230).
WANT_DIGEST = {"Want-Digest": "adler32"}


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

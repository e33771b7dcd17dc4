"""A file's reference adler32 kept in one of its extended attributes, on a local file system.

The value is the eight hex digits as ASCII, written without a terminating
NUL (as StoRM writes ``user.storm.checksum.adler32``); values written by
tools that add a NUL, or that drop leading zeros or use capitals, read the
same. File systems without user extended attributes keep nothing, which is
not an error: callers then compute checksums instead.
"""

from __future__ import annotations

import errno
import logging
import os

from dirac_core.checksums import normalise_adler32

__all__ = ["read_checksum_xattr", "write_checksum_xattr"]

log = logging.getLogger(__name__)

#: errno values meaning "this file system keeps no such attribute".
_NO_XATTR = frozenset({errno.ENODATA, errno.ENOTSUP, errno.EOPNOTSUPP})


def read_checksum_xattr(target: int | str | os.PathLike[str], name: str) -> str | None:
    """The adler32 kept in the attribute ``name`` of ``target`` (a path or open descriptor).

    None when the attribute is absent, the file system or platform keeps no
    user attributes, or the value is not an adler32 (logged). Other
    ``OSError`` (a missing file, no permission) propagate.
    """
    if not hasattr(os, "getxattr"):
        return None
    try:
        raw = os.getxattr(target, name)
    except OSError as exc:
        if exc.errno in _NO_XATTR:
            return None
        raise
    try:
        return normalise_adler32(raw.rstrip(b"\x00").decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        log.warning("ignoring the attribute %s=%r of %s: not an adler32", name, raw, target)
        return None


def write_checksum_xattr(target: int | str | os.PathLike[str], name: str, checksum: str, *,
                         strict: bool) -> None:
    """Keep ``checksum`` in the attribute ``name`` of ``target``.

    A file system without user attributes is silently skipped. Any other
    ``OSError`` propagates with ``strict``, and is logged without (a cache
    that cannot be written does not make a read wrong).
    """
    if not hasattr(os, "setxattr"):
        return
    try:
        os.setxattr(target, name, checksum.encode("ascii"))
    except OSError as exc:
        if strict and exc.errno not in _NO_XATTR:
            raise
        log.debug("cannot keep %s on %s: %s", name, target, exc)

"""Reading XRootD's answers to queries: a checksum (``kXR_Qcksum``) and a space (``kXR_Qspace``).

A checksum answer is ``<type> <value>``; only adler32 is accepted. To a space query the server
answers an ``&``-separated list of ``oss.*`` keys for the space (``cgroup``) holding the path:
``oss.space`` (bytes in all), ``oss.free`` (bytes free), ``oss.maxf`` (the largest free extent),
``oss.used`` and ``oss.quota`` (``-1``: none). With a quota set, what may still be written is the
smaller of the free bytes and ``quota - used``.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from dirac_core.checksums import normalise_adler32
from dirac_core.errors import StorageError
from dirac_core.plugins.storage import Occupancy

__all__ = ["parse_checksum", "parse_space"]


def parse_space(answer: bytes, url: str) -> Occupancy:
    """The occupancy in a space query's ``answer``; ``StorageError`` when it has no ``oss.free``."""
    text = bytes(answer).rstrip(b"\x00").decode("ascii", errors="replace")
    fields = dict(parse_qsl(text, keep_blank_values=True))
    try:
        free = int(fields["oss.free"])
        total = int(fields["oss.space"]) if "oss.space" in fields else None
        quota = int(fields.get("oss.quota", "-1"))
        used = int(fields.get("oss.used", "0"))
    except (KeyError, ValueError) as exc:
        raise StorageError(f"the server gives no free space for {url}: {text!r}", url=url) from exc
    if quota >= 0:
        free, total = max(0, min(free, quota - used)), quota
    return Occupancy(free=free, total=total)


def parse_checksum(answer: bytes, url: str) -> str:
    """The adler32 in a checksum query's ``answer``; ``StorageError`` for another type or a bad value."""
    text = bytes(answer).rstrip(b"\x00").decode("ascii", errors="replace").split()
    if len(text) != 2 or text[0].lower() != "adler32":
        raise StorageError(f"the server gives no adler32 for {url}: {' '.join(text)!r}", url=url)
    try:
        return normalise_adler32(text[1])
    except ValueError as exc:
        raise StorageError(f"the server gives a malformed adler32 for {url}: {text[1]!r}",
                           url=url) from exc

"""Adler-32 checksums as DIRAC stores them: eight lowercase hex digits."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from pathlib import Path

__all__ = ["adler32_bytes", "adler32_chunks", "adler32_file", "normalise_adler32"]

_CHUNK = 1 << 20


def adler32_chunks(chunks: Iterable[bytes]) -> str:
    """The adler32 of the concatenated ``chunks``."""
    value = 1
    for chunk in chunks:
        value = zlib.adler32(chunk, value)
    return f"{value & 0xFFFFFFFF:08x}"


def adler32_bytes(data: bytes) -> str:
    """The adler32 of ``data``."""
    return adler32_chunks((data,))


def adler32_file(path: Path | str) -> str:
    """The adler32 of a local file, read in 1 MiB chunks."""
    with open(path, "rb") as fh:
        return adler32_chunks(iter(lambda: fh.read(_CHUNK), b""))


def normalise_adler32(value: str) -> str:
    """Lowercase and zero-pad a checksum written by another tool (``1A2B`` -> ``00001a2b``).

    Raises ``ValueError`` for anything that is not 1-8 hex digits.
    """
    text = value.strip().lower()
    if not 1 <= len(text) <= 8 or any(c not in "0123456789abcdef" for c in text):
        raise ValueError(f"not an adler32 checksum: {value!r}")
    return text.rjust(8, "0")

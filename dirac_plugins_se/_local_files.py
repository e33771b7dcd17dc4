"""Writing local files all-or-nothing, with their adler32 computed on the way.

Downloads (and the file driver's uploads) write into a hidden sibling of
the final file, ``.<name>.dirac-part-<random>``, and rename it over the
final name only when the bytes are complete and verified: a failed or
refused transfer leaves neither a partial file nor a changed destination.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from dirac_core.checksums import adler32_chunks

__all__ = ["PART_MARK", "is_partial", "partial_file", "write_chunks"]

#: Marks the temporary file of an unfinished transfer.
PART_MARK = ".dirac-part-"


def is_partial(name: str) -> bool:
    """Whether ``name`` is the temporary file of an unfinished transfer."""
    return name.startswith(".") and PART_MARK in name


@contextlib.contextmanager
def partial_file(destination: Path) -> Iterator[tuple[IO[bytes], Path]]:
    """An open, new, hidden file next to ``destination``, deleted at exit unless renamed away.

    The caller writes into it and ends with ``os.replace(part, destination)``.
    Raises ``OSError`` when the folder of ``destination`` does not accept it.
    """
    fd, tmp = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}{PART_MARK}")
    part = Path(tmp)
    try:
        with os.fdopen(fd, "wb") as fh:
            yield fh, part
    finally:
        with contextlib.suppress(FileNotFoundError):
            part.unlink()


def write_chunks(chunks: Iterable[bytes], out: IO[bytes]) -> tuple[int, str]:
    """Write ``chunks`` to ``out``, flushed to disk; the byte count and their adler32.

    Exceptions of ``chunks`` (a network read) and of ``out`` propagate.
    """
    size = 0

    def written() -> Iterator[bytes]:
        nonlocal size
        for chunk in chunks:
            out.write(chunk)
            size += len(chunk)
            yield chunk

    checksum = adler32_chunks(written())
    out.flush()
    os.fsync(out.fileno())
    return size, checksum

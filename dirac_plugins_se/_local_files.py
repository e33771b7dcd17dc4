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
from dirac_core.errors import StorageError

__all__ = ["PART_MARK", "is_partial", "new_partial", "partial_file", "write_chunks"]

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


def new_partial(destination: Path, url: str) -> Path:
    """A new, empty, hidden file next to ``destination`` (its folder created) for a download from
    ``url`` to write into; the caller renames it over ``destination`` or deletes it.
    :class:`StorageError` naming both when the folder does not accept it."""
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        fd, part = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}{PART_MARK}")
    except OSError as exc:
        raise StorageError(f"cannot write {destination} to download {url}: {exc.strerror or exc}",
                           url=url, destination=str(destination)) from exc
    os.close(fd)
    return Path(part)


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

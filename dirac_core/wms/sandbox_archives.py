"""Sandbox archives: pack files into a ``tar.bz2``, and unpack an archive without escaping its directory.

DiracX's client writes ``tar.zst``; unpacking one needs ``zstandard`` (not a dependency of
dirac-core), so :func:`pack` writes ``tar.bz2`` from the standard library, which DiracX's
server accepts too.
"""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import IO, Any

from dirac_core.errors import DiracError

__all__ = ["UnsafeArchive", "pack", "unpack"]

_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
#: the standard library's own check too, where it has one (3.11.4+)
_FILTER: dict[str, Any] = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}


class UnsafeArchive(DiracError):
    """An archive member would land outside the destination (absolute path, ``..``, a link, a device)."""


def pack(paths: Iterable[Path | str], out: IO[bytes]) -> tuple[str, int]:
    """Write a ``tar.bz2`` of ``paths`` (each under its base name) to ``out``; its SHA-256 and size."""
    chosen = [Path(p) for p in paths]
    if not chosen:
        raise ValueError("no file to put in the sandbox")
    for path in chosen:
        if not path.exists():
            raise FileNotFoundError(f"no such file: {path}")
    start = out.tell()
    with tarfile.open(fileobj=out, mode="w:bz2") as tar:
        for path in chosen:
            tar.add(path, arcname=path.resolve().name)
    out.seek(start)
    digest, size = hashlib.sha256(), 0
    while chunk := out.read(1024 * 1024):
        digest.update(chunk)
        size += len(chunk)
    out.seek(start)
    return digest.hexdigest(), size


def _check(member: tarfile.TarInfo) -> None:
    name = PurePosixPath(member.name)
    if name.is_absolute() or ".." in name.parts or member.name.startswith(("/", "\\")) or "\\" in member.name:
        raise UnsafeArchive(f"archive member {member.name!r} would leave the destination")
    if not (member.isfile() or member.isdir()):
        raise UnsafeArchive(f"archive member {member.name!r} is not a plain file or directory")


def unpack(archive: Path, dest: Path) -> list[Path]:
    """Extract ``archive`` (bz2, gzip, xz or zstd tar) into ``dest``; the files written.

    Refuses (:class:`UnsafeArchive`, before writing anything) absolute names, ``..``, links and
    special files.
    """
    with archive.open("rb") as handle:
        zstd = handle.read(4) == _ZSTD_MAGIC
    if zstd:
        try:
            import zstandard  # type: ignore[import-not-found,unused-ignore]  # noqa: PLC0415 (optional)
        except ImportError:
            raise DiracError(f"{archive.name} is a tar.zst sandbox: unpacking it needs "
                             "'pip install zstandard'") from None
        with archive.open("rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as stream, \
                tarfile.open(fileobj=stream, mode="r|") as tar:
            return _extract(tar, dest, streamed=True)
    with tarfile.open(archive, mode="r:*") as tar:
        return _extract(tar, dest, streamed=False)


def _extract(tar: tarfile.TarFile, dest: Path, *, streamed: bool) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    if not streamed:
        members = tar.getmembers()
        for member in members:
            _check(member)
        for member in members:
            tar.extract(member, dest, set_attrs=False, **_FILTER)
            if member.isfile():
                written.append(dest / member.name)
        return written
    for member in tar:  # a stream: each member checked before it is written
        _check(member)
        tar.extract(member, dest, set_attrs=False, **_FILTER)
        if member.isfile():
            written.append(dest / member.name)
    return written

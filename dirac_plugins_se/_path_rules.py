"""The rules every storage path obeys before a driver touches its storage.

A storage path is absolute inside the storage's namespace (``/vo/data/f``).
Drivers check it with :func:`checked_path` before any I/O, so a path that
could leave the storage's base (``/vo/../../etc``) is refused, never
resolved.
"""

from __future__ import annotations

from dirac_core.errors import StorageError

__all__ = ["checked_path", "join_under"]


def checked_path(path: str) -> str:
    """``path`` normalised (``//`` collapsed, no trailing ``/``); ``/`` for the root.

    Raises :class:`StorageError` (with ``path``) for a relative path, a NUL
    character, or a ``.`` or ``..`` component: a storage path names one place
    and never climbs out of the storage's base.
    """
    if not isinstance(path, str) or not path.startswith("/"):
        raise StorageError(f"storage path {path!r} is not absolute", path=path)
    if "\x00" in path:
        raise StorageError(f"storage path {path!r} contains a NUL character", path=path)
    parts = [part for part in path.split("/") if part]
    if any(part in (".", "..") for part in parts):
        raise StorageError(f"storage path {path!r} may not contain '.' or '..' components "
                           "(it must stay under the storage's base)", path=path)
    return "/" + "/".join(parts)


def join_under(base: str, path: str) -> str:
    """``base`` followed by the checked ``path`` (``base`` without its trailing ``/``).

    ``join_under("/data", "/vo/f") == "/data/vo/f"``; the root path gives
    ``base`` itself (``/`` for an empty base).
    """
    tail = checked_path(path)
    head = base.rstrip("/")
    if tail == "/":
        return head or "/"
    return head + tail

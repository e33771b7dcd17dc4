"""Logical file names: normalised and validated before any catalog or storage is touched.

:func:`normalize_lfn` accepts what users type (an ``LFN:`` prefix, DIRAC's
legacy ``/grid/`` head, doubled or trailing slashes) and returns the one
spelling every catalog stores. It refuses, with :class:`InvalidLFN`, what no
catalog may store: relative paths, ``.`` or ``..`` components (no path
traversal, not even one that would resolve inside the namespace), control
characters, a backslash, and names or paths over the limits below.
"""

from __future__ import annotations

from collections.abc import Iterable

from dirac_core.errors import DiracError

__all__ = ["MAX_DEPTH", "MAX_LFN_LENGTH", "MAX_NAME_LENGTH", "InvalidLFN", "lfn_parent", "normalize_lfn",
           "normalize_lfns"]

#: The longest LFN, and the longest single name in it (DIRAC's ``MAX_FILENAME_LENGTH``).
MAX_LFN_LENGTH = 1024
MAX_NAME_LENGTH = 128
#: The most path components an LFN may have (DIRAC's level tree stops at 15 directory levels).
MAX_DEPTH = 16


class InvalidLFN(DiracError):
    """An LFN that cannot be stored: ``lfn`` is what was given, the message says why."""


def normalize_lfn(lfn: object) -> str:
    """The canonical form of ``lfn`` (``/vo/dir/file``); :class:`InvalidLFN` when it has none."""
    if not isinstance(lfn, str):
        raise InvalidLFN(f"an LFN must be a string, not {type(lfn).__name__}", lfn=repr(lfn))
    text = lfn.strip()
    if text[:4].lower() == "lfn:":
        text = text[4:]
    if not text:
        raise InvalidLFN("empty LFN", lfn=lfn)
    if not text.startswith("/"):
        raise InvalidLFN(f"LFN {lfn!r} is not absolute (it must start with '/')", lfn=lfn)
    if any(ord(c) < 32 or ord(c) == 127 for c in text) or "\\" in text:
        raise InvalidLFN(f"LFN {lfn!r} holds a control character or a backslash", lfn=lfn)
    parts = [p for p in text.split("/") if p]
    if parts[:1] == ["grid"]:  # DIRAC's legacy namespace head
        parts = parts[1:]
    if not parts:
        raise InvalidLFN(f"LFN {lfn!r} names the root, not a file or directory", lfn=lfn)
    if any(p in (".", "..") for p in parts):
        raise InvalidLFN(f"LFN {lfn!r} holds a '.' or '..' component", lfn=lfn)
    long = next((p for p in parts if len(p) > MAX_NAME_LENGTH), None)
    if long is not None:
        raise InvalidLFN(f"LFN {lfn!r}: name {long[:20]!r}... is longer than {MAX_NAME_LENGTH} "
                         "characters", lfn=lfn)
    if len(parts) > MAX_DEPTH:
        raise InvalidLFN(f"LFN {lfn!r} is {len(parts)} levels deep (at most {MAX_DEPTH})", lfn=lfn)
    result = "/" + "/".join(parts)
    if len(result) > MAX_LFN_LENGTH:
        raise InvalidLFN(f"LFN is {len(result)} characters long (at most {MAX_LFN_LENGTH})",
                         lfn=lfn[:100])
    return result


def normalize_lfns(lfns: Iterable[object]) -> tuple[dict[str, str], dict[str, InvalidLFN]]:
    """Normalise many: ``({given: canonical}, {given: InvalidLFN})`` (bulk calls fail per item)."""
    good: dict[str, str] = {}
    bad: dict[str, InvalidLFN] = {}
    for lfn in lfns:
        key = lfn if isinstance(lfn, str) else repr(lfn)
        try:
            good[key] = normalize_lfn(lfn)
        except InvalidLFN as exc:
            bad[key] = exc
    return good, bad


def lfn_parent(lfn: str) -> str:
    """The directory of a canonical LFN (``/`` for a top-level name)."""
    head = lfn.rsplit("/", 1)[0]
    return head or "/"

"""LFNs as the catalog handles them: normalised per item, split, hashed.

Every LFN goes through :func:`~dirac_core.model.lfn.normalize_lfn`. A bulk
call of a million LFNs cannot afford its ~5 us each, so :func:`canonical`
first tests the common case, an LFN that is already canonical, with one
regular expression; anything the expression does not accept (a prefix, a
``.`` anywhere after a slash, a trailing blank, non-ASCII text, ...) is
given to ``normalize_lfn``; text that cannot be stored as UTF-8 (a lone
surrogate) is refused there too. The fast path accepts only strings ``normalize_lfn``
returns unchanged (a property test checks this).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

from dirac_core.model.lfn import MAX_DEPTH, MAX_LFN_LENGTH, MAX_NAME_LENGTH, InvalidLFN, normalize_lfn

__all__ = ["ROOT", "ancestors", "canonical", "is_root", "path_key", "split"]

ROOT = "/"

#: A canonical ASCII LFN: 1 to 16 components of printable ASCII without ``/`` or ``\\``, each 1 to
#: 128 long and not starting with ``.``; not under ``/grid``; no trailing blank. (Length: checked apart.)
_CANONICAL = re.compile(
    rf"(?!/grid(?:/|\Z))(?:/[ -\-0-\[\]-~][ -.0-\[\]-~]{{0,{MAX_NAME_LENGTH - 1}}}){{1,{MAX_DEPTH}}}(?<! )")


def _is_canonical(lfn: str) -> bool:
    """True only for an ``lfn`` that ``normalize_lfn`` would return unchanged."""
    return len(lfn) <= MAX_LFN_LENGTH and _CANONICAL.fullmatch(lfn) is not None


def _normalized(lfn: object) -> str:
    result = normalize_lfn(lfn)
    try:
        result.encode()
    except UnicodeEncodeError:
        raise InvalidLFN(f"LFN {result!r} is not valid Unicode (a lone surrogate)", lfn=result) from None
    return result


def canonical(given: Iterable[object], *, root: bool = False
              ) -> tuple[dict[str, str], dict[str, InvalidLFN], bool]:
    """``({key: canonical LFN}, {key: InvalidLFN}, same)`` in the order given.

    ``key`` is the LFN as given (``repr`` of a non-string): results of bulk
    calls are keyed by what the caller passed. ``same`` is True when every
    key is its own canonical LFN (the common case, which callers can take a
    shortcut for). With ``root``, the root (``/``, ``LFN:/``, ``/grid/``) is
    accepted as ``/``, where a directory is meant.
    """
    items = given if isinstance(given, list | tuple) else list(given)
    match = _CANONICAL.fullmatch
    try:  # all of them canonical: the whole list at C speed
        if all(map(match, items)) and max(map(len, items), default=0) <= MAX_LFN_LENGTH:
            return dict(zip(items, items, strict=True)), {}, True
    except TypeError:  # not all strings
        pass
    good: dict[str, str] = {}
    bad: dict[str, InvalidLFN] = {}
    same = True
    for lfn in items:
        if type(lfn) is str and len(lfn) <= MAX_LFN_LENGTH and match(lfn) is not None:
            good[lfn] = lfn
            continue
        key = lfn if isinstance(lfn, str) else repr(lfn)
        try:
            value = good[key] = ROOT if root and is_root(lfn) else _normalized(lfn)
        except InvalidLFN as exc:
            bad[key] = exc
            continue
        same = same and value == key
    return good, bad, same and not bad


def is_root(path: object) -> bool:
    """Whether ``path`` names the root directory (``/``, ``LFN:/``, ``/grid``, with extra slashes)."""
    if not isinstance(path, str):
        return False
    text = path.strip()
    text = text[4:] if text[:4].lower() == "lfn:" else text
    return text.startswith("/") and text.strip("/") in ("", "grid")


def split(lfn: str) -> tuple[str, str]:
    """``(directory, name)`` of a canonical LFN; the directory of ``/x`` is ``/``."""
    head, _, name = lfn.rpartition("/")
    return head or ROOT, name


def ancestors(path: str) -> list[str]:
    """The directories above a canonical path, root first (``/a/b`` -> ``["/", "/a"]``)."""
    if path == ROOT:
        return []
    parts = path.split("/")[1:-1]
    return [ROOT, *("/" + "/".join(parts[:i]) for i in range(1, len(parts) + 1))]


def path_key(path: str) -> str:
    """The unique key of a directory path: 32 hex digits of its BLAKE2b hash."""
    return hashlib.blake2b(path.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()

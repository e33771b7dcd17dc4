"""Statuses as ``StrEnum`` values whose legal changes are a table, checked in one place.

A transition table maps every status to the set of statuses it may move to.
:func:`check_transition` is the one function that decides; engines call it
and never compare status strings themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import TypeVar

from dirac_core.errors import InvalidTransition

__all__ = ["TransitionTable", "check_transition", "make_table", "reachable"]

S = TypeVar("S", bound=StrEnum)

TransitionTable = Mapping[S, frozenset[S]]


def make_table(enum: type[S], edges: Mapping[S, Iterable[S]]) -> dict[S, frozenset[S]]:
    """Build a complete transition table for ``enum`` from ``edges``.

    Every member must appear as a key (final statuses map to an empty
    iterable), so that a status added to the enum without a row is caught
    when the module is imported rather than at run time.
    """
    missing = [m.value for m in enum if m not in edges]
    if missing:
        raise ValueError(f"{enum.__name__}: no transition row for {missing}")
    foreign = [str(s) for targets in edges.values() for s in targets if not isinstance(s, enum)]
    if foreign:
        raise ValueError(f"{enum.__name__}: targets outside the enum: {foreign}")
    return {status: frozenset(edges[status]) for status in enum}


def check_transition(table: TransitionTable[S], current: S, requested: S, *,
                     force: bool = False, subject: object = None) -> S:
    """Return ``requested`` if the table allows ``current`` -> ``requested``.

    Staying in the same status is always allowed. ``force`` (administrators
    only; the caller checks the permission) skips the table. Raises
    :class:`InvalidTransition` with ``current``, ``requested`` and ``subject``
    (the job id, file, ... for the message) otherwise.
    """
    if force or current == requested or requested in table[current]:
        return requested
    what = f" for {subject}" if subject is not None else ""
    raise InvalidTransition(
        f"{type(current).__name__} {current.value} -> {requested.value} is not allowed{what}",
        current=current, requested=requested, subject=subject,
    )


def reachable(table: TransitionTable[S], start: S) -> frozenset[S]:
    """Every status reachable from ``start`` (``start`` included)."""
    seen = {start}
    todo = [start]
    while todo:
        for nxt in table[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return frozenset(seen)

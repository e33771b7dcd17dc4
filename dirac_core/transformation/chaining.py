"""Whether one production step feeds the next: its output query must match the next input query.

Steps pass no files to each other: the next step's input query selects the files the previous
step registered with its output metadata. :func:`chain_problem` checks that this can work, with
DIRAC's rule: both queries use only equality and ``in`` conditions; every field of the input
query appears in the output query; for each such field, one set of values contains the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["chain_problem", "query_values"]

_SCALARS = (str, int, float)


def query_values(query: Mapping[str, Any]) -> dict[str, frozenset[Any]]:
    """Each field's set of accepted values; ``ValueError`` for a condition other than a value, a
    list of values or ``{"=": v}`` / ``{"in": [...]}``."""
    out: dict[str, frozenset[Any]] = {}
    for field, given in query.items():
        condition = given
        if isinstance(given, Mapping):
            if len(given) != 1 or next(iter(given)) not in ("=", "in"):
                raise ValueError(f"{field}: only '=' and 'in' conditions can chain steps, got {dict(given)}")
            (op, operand), = given.items()
            condition = [operand] if op == "=" else operand
        values = condition if isinstance(condition, list | tuple | set | frozenset) else [condition]
        if not values or any(isinstance(v, bool) or not isinstance(v, _SCALARS) for v in values):
            raise ValueError(f"{field}: values must be strings or numbers, got {given!r}")
        out[field] = frozenset(values)
    return out


def chain_problem(output_query: Mapping[str, Any], input_query: Mapping[str, Any]) -> str | None:
    """Why files described by ``output_query`` would not be selected by ``input_query``; None
    when the steps chain."""
    try:
        produced, wanted = query_values(output_query), query_values(input_query)
    except ValueError as exc:
        return str(exc)
    if not wanted:
        return "the next step has no input query"
    for field, values in sorted(wanted.items()):
        if field not in produced:
            return f"the next step selects on {field!r}, which the previous step's output does not set"
        made = produced[field]
        if not (values <= made or made <= values):
            return (f"{field!r}: the previous step produces {sorted(map(str, made))}, the next selects "
                    f"{sorted(map(str, values))}")
    return None

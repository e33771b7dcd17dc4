"""Reading a splitter's parameters: DIRAC's names, checked once, in the constructor.

Transformation parameters arrive as the user, the CLI or the database gave them: ``10``,
``10.0`` and ``"10"`` are the same group size; an SE list may be a list, ``"SE1, SE2"`` or
``"['SE1', 'SE2']"`` (DIRAC's spellings). Each reader returns the typed value or raises
:class:`~dirac_core.errors.InvalidTransformation` whose message and ``parameter`` field name
the parameter.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from typing import Any

from dirac_core.errors import InvalidTransformation

__all__ = ["count", "invalid", "names", "number"]


def invalid(plugin: str, name: str, why: str, value: object) -> InvalidTransformation:
    """The error for parameter ``name`` of splitter ``plugin``: ``why`` it is wrong, and the value."""
    return InvalidTransformation(f"splitter {plugin}: parameter {name} {why}, got {value!r}",
                                 plugin=plugin, parameter=name, value=value)


def count(plugin: str, parameters: Mapping[str, Any], name: str, default: int, *, minimum: int = 1) -> int:
    """A whole number (of files, of destinations) at least ``minimum``; ``default`` when absent."""
    value = parameters.get(name, default)
    number_ = _as_number(value)
    if isinstance(number_, float):
        number_ = int(number_) if math.isfinite(number_) and number_.is_integer() else None
    if number_ is None:
        raise invalid(plugin, name, "must be a whole number", value)
    if number_ < minimum:
        raise invalid(plugin, name, f"must be at least {minimum}", value)
    return number_


def number(plugin: str, parameters: Mapping[str, Any], name: str, default: float, *,
           positive: bool = True) -> float:
    """A finite number, greater than zero (or, with ``positive=False``, at least zero)."""
    value = parameters.get(name, default)
    number_ = _as_number(value)
    try:
        as_float = float(number_) if number_ is not None else math.nan
    except OverflowError:  # an int too large for a float
        as_float = math.nan
    if not math.isfinite(as_float):
        raise invalid(plugin, name, "must be a number", value)
    if as_float < 0 or (positive and as_float == 0):
        raise invalid(plugin, name, "must be greater than zero" if positive else "must not be negative",
                      value)
    return as_float


def names(plugin: str, parameters: Mapping[str, Any], name: str, *, required: bool) -> tuple[str, ...]:
    """Names (of SEs, sites, metadata keys): a list, a comma-separated string or a list's ``repr``.

    Order is kept and repeats are dropped; an absent or empty value (or DIRAC's ``"None"``) is
    ``()`` unless ``required``.
    """
    value = parameters.get(name)
    items: Any = value
    if isinstance(value, str):
        text = value.strip()
        if text == "None":
            items = []
        elif text.startswith("["):
            try:
                items = ast.literal_eval(text)
            except (ValueError, SyntaxError):
                raise invalid(plugin, name, "is not a readable list", value) from None
        else:
            items = [part.strip() for part in text.split(",")]
            items = [part for part in items if part]
    if items is None:
        items = []
    if not isinstance(items, list | tuple) or not all(isinstance(item, str) and item for item in items):
        raise invalid(plugin, name, "must be a list of names", value)
    if required and not items:
        raise invalid(plugin, name, "is required (at least one name)", value)
    return tuple(dict.fromkeys(items))


def _as_number(value: object) -> int | float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        for kind in (int, float):
            try:
                return kind(value.strip())
            except ValueError:
                pass
    return None

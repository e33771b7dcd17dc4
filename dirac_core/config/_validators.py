"""Validators and option types shared by the config classes (private)."""

from __future__ import annotations

from typing import Any

from attrs import validators as v

__all__ = ["NAME", "NON_NEGATIVE", "OPT_INT", "OPT_STR", "POSITIVE", "STR_SET", "OptionValue"]

#: a value of a plugin section's free ``options`` table
OptionValue = str | int | float | bool | tuple[str, ...]

NAME: Any = v.and_(v.instance_of(str), v.matches_re(r"[A-Za-z0-9_.@+-]+"))
NON_NEGATIVE: Any = v.and_(v.instance_of(int), v.ge(0))
POSITIVE: Any = v.and_(v.instance_of(int), v.ge(1))
OPT_INT: Any = v.optional(NON_NEGATIVE)
OPT_STR: Any = v.optional(v.instance_of(str))
STR_SET: Any = v.deep_iterable(v.instance_of(str), v.instance_of(frozenset))

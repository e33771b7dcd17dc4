"""The parser's fast path, for flat machine-written descriptions.

Most descriptions are written by programs: flat (no nested ad, no list in a list), without
comments or escapes, and in bulk with one *shape*: the same attributes, numbers and bare words
in the same layout, where only the quoted strings differ (job names, files, arguments).
:func:`parse_flat` cuts the quoted strings out with ``str.split`` (C speed, where a regex pays
for every character), checks and reads the *skeleton* left (each string replaced by an empty
``""`` marker) into a :class:`Plan`, and fills the plan with the strings. Plans are cached by
skeleton, so a bulk of same-shaped descriptions reads its skeleton once; numbers and bare words
in a plan are immutable, and every list is built anew for each description.

It returns None for any other text (comments, escapes, nested ads or lists, a duplicate, any
syntax error): the careful parser of :mod:`~dirac_core.jdl.syntax` then gives the result, or the
error with its line and column. The fast path is only ever a shortcut to that same result; the
tests compare both on generated descriptions.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from itertools import compress
from operator import itemgetter
from typing import Any, NamedTuple, cast

from dirac_core.jdl.values import NUMBER, ClassAd, Value, number, word_value

__all__ = ["Getter", "Plan", "build_ad", "getters", "parse_flat", "parse_planned", "split_planned"]

_BLANK = " \t\r\n"
_WS = "[ \t\r\n]*"
_WORD = r'[^\s\[\]{}=;,"]+'  # the tokenizer's word: a bare word or a number
_ITEM = rf'(?:""|{_WORD})'
_SHAPE = re.compile(
    rf"(?:{_WS}[A-Za-z_][A-Za-z0-9_.]*{_WS}={_WS}"
    rf"(?:\"\"|\{{{_WS}(?:{_ITEM}{_WS}(?:,{_WS}{_ITEM}{_WS})*(?:,{_WS})?)?\}}|{_WORD})"
    rf"{_WS}(?:;|\Z))*+{_WS}")
_PLANS = 256  # distinct shapes remembered; a submission system sees a few dozen
_PLANNED = 16_384  # longer skeletons (thousands of files) are read each time: the cache stays small


class Plan(NamedTuple):
    """How to build the ad of one skeleton from its strings (indexes count the strings in order)."""

    names: tuple[str, ...]  # every attribute, in the written order
    string_names: tuple[str, ...]  # attributes whose value is one string ...
    string_mask: tuple[bool, ...]  # ... and, per string, whether it is such a value
    constants: tuple[tuple[str, Value], ...]  # numbers, booleans and bare words
    string_lists: tuple[tuple[str, int, int], ...]  # lists of strings only: strings[start:stop]
    word_lists: tuple[tuple[str, tuple[Value, ...]], ...]  # lists without strings
    mixed_lists: tuple[tuple[str, tuple[tuple[int, Value], ...]], ...]  # (index, or -1 and the value)
    #: what the layer above works out once per shape (the typed reading: ``description.py``)
    memo: dict[str, Any]


def _scalar(word: str) -> Value | None:
    """A word as the tokenizer reads it, or None when the tokenizer would see two tokens (``5%``)."""
    if word[0] in "0123456789+-.":
        m = NUMBER.match(word)
        if m is not None:
            return number(word) if m.end() == len(word) else None
    return word_value(word)


def _body(skeleton: str) -> str | None:
    """The attributes of a flat skeleton, checked against the grammar; None for anything else."""
    if "#" in skeleton or "//" in skeleton or "/*" in skeleton:
        return None  # a comment
    body = skeleton.strip(_BLANK)
    if body[:1] == "[":
        body = body[1:-1] if body[-1:] == "]" else ""
    return body if body and _SHAPE.fullmatch(body) else None


class _Builder:
    """Collects a plan, attribute by attribute; ``add`` is False for a word the tokenizer splits."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.string_names: list[str] = []
        self.mask: list[bool] = []
        self.constants: list[tuple[str, Value]] = []
        self.string_lists: list[tuple[str, int, int]] = []
        self.word_lists: list[tuple[str, tuple[Value, ...]]] = []
        self.mixed_lists: list[tuple[str, tuple[tuple[int, Value], ...]]] = []

    def add(self, name: str, raw: str) -> bool:
        self.names.append(name)
        if raw == '""':
            self.string_names.append(name)
            self.mask.append(True)
            return True
        if raw[0] == "{":
            return self.add_list(name, raw[1:-1].replace(",", " ").split())  # items hold no blank or ','
        value = _scalar(raw)
        if value is None:
            return False
        self.constants.append((name, value))
        return True

    def add_list(self, name: str, items: list[str]) -> bool:
        markers = items.count('""')
        if markers == len(items) and items:
            self.string_lists.append((name, len(self.mask), len(self.mask) + markers))
            self.mask.extend([False] * markers)
            return True
        template: list[tuple[int, Value]] = []
        for item in items:
            if item == '""':
                template.append((len(self.mask), ""))
                self.mask.append(False)
                continue
            value = _scalar(item)
            if value is None:
                return False
            template.append((-1, value))
        if markers:
            self.mixed_lists.append((name, tuple(template)))
        else:
            self.word_lists.append((name, tuple(value for _, value in template)))
        return True

    def plan(self) -> Plan | None:
        if len(set(self.names)) != len(self.names):
            return None  # a duplicate: the careful parser says where
        return Plan(tuple(self.names), tuple(self.string_names), tuple(self.mask), tuple(self.constants),
                     tuple(self.string_lists), tuple(self.word_lists), tuple(self.mixed_lists), {})


@functools.lru_cache(maxsize=_PLANS)
def _plan(skeleton: str) -> Plan | None:
    body = _body(skeleton)
    if body is None:
        return None
    # the shape is checked: every ';' ends an attribute, the first '=' follows its name, and ','
    # only separates list items
    chunks = body.split(";")
    if not chunks[-1].strip(_BLANK):
        chunks.pop()
    builder = _Builder()
    for chunk in chunks:
        name, _, raw = chunk.partition("=")
        if not builder.add(name.strip(_BLANK), raw.strip(_BLANK)):
            return None
    return builder.plan()


def parse_flat(text: str) -> ClassAd | None:
    """The ad of a flat description without comments or escapes; None for any other text."""
    planned = parse_planned(text)
    return None if planned is None else planned[0]


def parse_planned(text: str) -> tuple[ClassAd, Plan] | None:
    """:func:`parse_flat`, with the plan of the text's shape (the same object for every text of
    that shape while it is cached): ``plan.constants`` and ``plan.word_lists`` name the attributes
    whose values the shape fixes, and ``plan.memo`` keeps what a caller derives from them."""
    found = split_planned(text)
    if found is None:
        return None
    strings, plan = found
    return build_ad(plan, strings), plan


def split_planned(text: str) -> tuple[list[str], Plan] | None:
    """The quoted strings of a flat description, in order, and the plan of its shape; None for
    any other text. :func:`build_ad` makes the ad from them; :func:`getters` reads one attribute."""
    if "\\" in text:
        return None
    pieces = text.split('"')
    if not len(pieces) & 1:
        return None  # a string is not closed
    strings = pieces[1::2]
    if "\n" in "".join(strings):
        return None  # a string runs over the end of its line
    skeleton = '""'.join(pieces[::2])
    plan = _plan(skeleton) if len(skeleton) <= _PLANNED else _plan.__wrapped__(skeleton)
    return None if plan is None else (strings, plan)


def build_ad(plan: Plan, strings: list[Any]) -> ClassAd:
    """The ad of a description of ``plan``'s shape with these strings (a new list per list value)."""
    ad = cast(ClassAd, dict.fromkeys(plan.names))  # every value is set below, in the written order
    ad.update(zip(plan.string_names, compress(strings, plan.string_mask), strict=True))
    ad.update(plan.constants)
    for name, start, stop in plan.string_lists:
        ad[name] = strings[start:stop]
    for name, values in plan.word_lists:
        ad[name] = list(values)
    for name, template in plan.mixed_lists:
        ad[name] = _mixed(template, strings)
    return ad


Getter = Callable[[list[str]], Value]


def getters(plan: Plan) -> dict[str, Getter]:
    """For each attribute of the shape, a function of a description's strings that gives its value
    as :func:`build_ad` would (each list a new one); in the written order."""
    out: dict[str, Getter] = {}
    positions = [index for index, single in enumerate(plan.string_mask) if single]
    for name, index in zip(plan.string_names, positions, strict=True):
        out[name] = itemgetter(index)
    for name, value in plan.constants:
        out[name] = functools.partial(_constant, value)
    for name, start, stop in plan.string_lists:
        out[name] = itemgetter(slice(start, stop))
    for name, values in plan.word_lists:
        out[name] = functools.partial(_new_list, values)
    for name, template in plan.mixed_lists:
        out[name] = functools.partial(_mixed, template)
    return {name: out[name] for name in plan.names}


def _constant(value: Value, _strings: list[str]) -> Value:
    return value


def _new_list(values: tuple[Value, ...], _strings: list[str]) -> Value:
    return list(values)


def _mixed(template: tuple[tuple[int, Value], ...], strings: list[str]) -> Value:
    return [strings[index] if index >= 0 else value for index, value in template]

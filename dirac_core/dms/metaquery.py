"""Metadata queries: DIRAC's dictionary forms, its command-line language, and the normal form.

A query is a mapping ``{field: condition}``; all terms are ANDed. A condition is

- a scalar: equality (``{"zenith": 10}``);
- a list: one of the values (``{"zenith": [10, 11]}``);
- a mapping of operators, all ANDed: ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``in``, ``nin``
  (``{"energy": {">=": 1.5, "<": 3}}``);
- the string ``"Any"`` (the field has a value) or ``"Missing"`` (it has none).

:func:`normalize_query` turns such a mapping into a tuple of :class:`Term`, the
one form the catalogs evaluate (the SQL catalog compiles Terms to SQL, the
memory catalog and :func:`matches` evaluate them in Python):

- ``Term.field``: the field name; the aliases of the standard file keys are
  resolved (``Owner`` -> ``User``, ``FileName`` -> ``Name``, ``CheckSum`` ->
  ``Checksum``);
- ``Term.op``: an :class:`Op` (a ``StrEnum``, so ``term.op == "<="`` works);
- ``Term.value``: typed by the field's declared type (``int``, ``float``,
  ``string`` -> ``str``, ``date`` -> tz-aware UTC ``datetime``): one value for
  ``= != < <= > >= like``, a non-empty tuple for ``in``/``nin``, None for
  ``any``/``missing``.

``like`` replaces ``=`` when a *file* string field (a declared file field or a
standard key) is compared with a value holding ``*`` (any run of characters)
or ``?`` (one character); every other character of the pattern is literal
(:func:`like_to_sql` and :func:`like_to_regex` translate it).

The standard file keys (:data:`STANDARD_FILE_KEYS`) are fields of every file
without being declared. ``SE`` is the set of storage elements holding a
replica: a positive term (``= in like < ...``) holds when one replica
satisfies it, ``!=``/``nin`` when none is excluded, ``Any`` when there is a
replica, ``Missing`` when there is none.

:func:`parse_query` reads DIRAC's command-line language
(``zenith=10,11 energy<1.5``) into the dictionary form, and :func:`matches` is
the client-side matcher applied to one file's metadata. The field types, the
standard keys and :func:`coerce` live in :mod:`dirac_core.dms.metafields` and
are re-exported here. Everything here is pure: no I/O, no state.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Collection, Iterator, Mapping, Sequence
from enum import StrEnum
from typing import Any

from attrs import frozen

from dirac_core.dms.metafields import (
    FIELD_TYPES,
    STANDARD_FILE_KEYS,
    STANDARD_KEY_ALIASES,
    QueryError,
    canonical_type,
    coerce,
    field_type,
    shown_value,
)

__all__ = [
    "ANY",
    "FIELD_TYPES",
    "MISSING",
    "STANDARD_FILE_KEYS",
    "STANDARD_KEY_ALIASES",
    "Op",
    "QueryError",
    "Term",
    "canonical_type",
    "coerce",
    "field_type",
    "like_to_regex",
    "like_to_sql",
    "matches",
    "normalize_query",
    "parse_query",
]

#: The condition strings meaning "the field has a value" and "it has none".
ANY = "Any"
MISSING = "Missing"


class Op(StrEnum):
    """The operators of a :class:`Term`."""

    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    IN = "in"
    NIN = "nin"
    ANY = "any"
    MISSING = "missing"
    LIKE = "like"


_COMPARISONS = frozenset({Op.LT, Op.LE, Op.GT, Op.GE})
#: operators a query mapping may use (``like``, ``any`` and ``missing`` are produced, not written)
_DICT_OPS = {op.value: op for op in (Op.EQ, Op.NE, Op.LT, Op.LE, Op.GT, Op.GE, Op.IN, Op.NIN)}


@frozen
class Term:
    """One condition of a normalised query: ``field op value`` (see the module docstring)."""

    field: str
    op: Op
    value: Any = None

    @property
    def is_standard(self) -> bool:
        """True when the field is a standard file key rather than a declared field."""
        return self.field in STANDARD_FILE_KEYS


def _wildcard(value: object) -> bool:
    return isinstance(value, str) and ("*" in value or "?" in value)


def _values(field: str, operand: object, kind: str) -> tuple[Any, ...]:
    items: list[object]
    if isinstance(operand, set | frozenset):
        items = sorted((coerce(v, kind, field=field) for v in operand), key=repr)
    elif isinstance(operand, list | tuple):
        items = [coerce(v, kind, field=field) for v in operand]
    else:
        items = [coerce(operand, kind, field=field)]
    if not items:
        raise QueryError(f"empty list of values for metadata {field}", field=field)
    return tuple(dict.fromkeys(items))


def _terms_for(field: str, condition: object, kind: str, *, like_ok: bool) -> Iterator[Term]:
    if isinstance(condition, str) and condition in (ANY, MISSING):
        yield Term(field, Op.ANY if condition == ANY else Op.MISSING)
        return
    if isinstance(condition, list | tuple | set | frozenset):
        yield Term(field, Op.IN, _values(field, condition, kind))
        return
    pairs: Sequence[tuple[object, object]]
    if isinstance(condition, Mapping):
        if not condition:
            raise QueryError(f"no operator for metadata {field}", field=field)
        pairs = list(condition.items())
    else:
        pairs = [("=", condition)]
    for raw_op, operand in pairs:
        op = _DICT_OPS.get(raw_op) if isinstance(raw_op, str) else None
        if op is None:
            raise QueryError(f"unknown operator {shown_value(raw_op)} for metadata {field}; "
                             f"use one of {', '.join(_DICT_OPS)}", field=field, op=shown_value(raw_op))
        is_list = isinstance(operand, list | tuple | set | frozenset)
        if op in _COMPARISONS and is_list:
            raise QueryError("Illegal query: list of values for comparison operation "
                             f"({field} {op.value} {shown_value(operand)})", field=field)
        if op in (Op.IN, Op.NIN) or is_list:
            yield Term(field, Op.NIN if op in (Op.NE, Op.NIN) else Op.IN, _values(field, operand, kind))
        elif op is Op.EQ and like_ok and _wildcard(operand):
            yield Term(field, Op.LIKE, operand)
        else:
            yield Term(field, op, coerce(operand, kind, field=field))


def normalize_query(query: Mapping[str, Any], fields: Mapping[str, str], *,
                    file_fields: Collection[str] = ()) -> tuple[Term, ...]:
    """The terms of ``query`` (all ANDed), in the order given, values typed.

    ``fields`` maps each declared field to its type; the standard file keys
    (and their aliases) are known too, a declared field of the same name
    winning. ``file_fields`` names the declared fields that belong to files:
    they, and the standard string keys, turn a wildcard equality into ``like``.

    Raises :class:`QueryError` for an unknown field (naming it and listing the
    known ones), an unknown operator, a list with a comparison operator, an
    empty list, or a value that cannot be converted to the field's type.
    """
    if not isinstance(query, Mapping):
        raise QueryError(f"a query is a mapping of fields to conditions, not {type(query).__name__}")
    terms: list[Term] = []
    for name, condition in query.items():
        if not isinstance(name, str):
            raise QueryError(f"metadata field names are strings, not {shown_value(name)}",
                             field=shown_value(name))
        field, kind = field_type(name, fields)
        like_ok = kind == "string" and (name in file_fields or (name not in fields and field in
                                                                STANDARD_FILE_KEYS))
        terms.extend(_terms_for(field, condition, kind, like_ok=like_ok))
    return tuple(terms)


def like_to_regex(pattern: str) -> re.Pattern[str]:
    """A compiled regex matching a whole string against a ``like`` pattern (``*``, ``?``)."""
    parts = ("." if c == "?" else ".*" if c == "*" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


def like_to_sql(pattern: str, escape: str = "\\") -> str:
    """The SQL ``LIKE`` pattern for a ``like`` pattern, to use with ``ESCAPE escape``.

    ``*`` becomes ``%``, ``?`` becomes ``_``; literal ``%``, ``_`` and the
    escape character are escaped.
    """
    out = []
    for char in pattern:
        if char in ("%", "_", escape):
            out.append(escape + char)
        else:
            out.append("%" if char == "*" else "_" if char == "?" else char)
    return "".join(out)


# --- the command-line language ------------------------------------------------

_Chars = list[tuple[str, bool]]  # each character with whether it was inside quotes


def _split_tokens(text: str) -> list[_Chars]:
    """Whitespace-separated tokens; quotes group (and are dropped), an unclosed one is an error."""
    tokens: list[_Chars] = []
    current: _Chars = []
    quote: str | None = None
    started = False
    for char in text:
        if quote is not None:
            if char == quote:
                quote = None
            else:
                current.append((char, True))
        elif char in "'\"":
            quote, started = char, True
        elif char.isspace():
            if started:
                tokens.append(current)
            current, started = [], False
        else:
            current.append((char, False))
            started = True
    if quote is not None:
        raise QueryError(f"unclosed quote {quote} in query {text!r}")
    if started:
        tokens.append(current)
    return tokens


def _split_values(chars: _Chars) -> list[_Chars]:
    parts: list[_Chars] = [[]]
    for char, quoted in chars:
        if char == "," and not quoted:
            parts.append([])
        else:
            parts[-1].append((char, quoted))
    return parts


def _operator(token: _Chars) -> tuple[str, str, _Chars]:
    """``(name, operator, value characters)`` of one ``name<op>value`` element."""
    shown = "".join(c for c, _ in token)
    start = next((i for i, (c, q) in enumerate(token) if not q and c in "<>!="), None)
    if start is None or start == 0 or any(q for _, q in token[:start]):
        raise QueryError(f"Illegal query element {shown!r}", element=shown)
    head = "".join(c for c, q in token[start:start + 2] if not q)
    op = head if head in (">=", "<=", "!=") else head[:1]
    if op == "!":
        raise QueryError(f"Illegal query element {shown!r}", element=shown)
    return "".join(c for c, _ in token[:start]), op, token[start + len(op):]


class _Conditions:
    """What the elements naming one field asked for, merged into DIRAC's dictionary form."""

    def __init__(self, field: str) -> None:
        self.field = field
        self.special: str | None = None
        self.eq: list[Any] = []
        self.ne: list[Any] = []
        self.eq_lists = self.ne_lists = False
        self.comparisons: dict[str, Any] = {}

    def add(self, op: str, values: list[Any], *, special: bool) -> None:
        if special:
            if self.special not in (None, values[0]):
                raise QueryError(f"{ANY} and {MISSING} both given for {self.field}", field=self.field)
            self.special = values[0]
        elif op in ("=", "!="):
            target = self.eq if op == "=" else self.ne
            target.extend(v for v in values if v not in target)
            if op == "=":
                self.eq_lists |= len(values) > 1
            else:
                self.ne_lists |= len(values) > 1
        elif self.comparisons.setdefault(op, values[0]) != values[0]:
            raise QueryError(f"operator {op} given twice for {self.field}", field=self.field)

    def condition(self) -> Any:
        if self.special is not None:
            if self.eq or self.ne or self.comparisons:
                raise QueryError(f"{self.special} cannot be combined with other conditions on {self.field}",
                                 field=self.field)
            return self.special
        if self.eq and not self.ne and not self.comparisons and not self.eq_lists:
            if len(self.eq) > 1:
                return list(self.eq)
            value = self.eq[0]
            return {"=": value} if value in (ANY, MISSING) else value
        result: dict[str, Any] = {}
        if self.eq:
            result.update({"in": list(self.eq)} if self.eq_lists or len(self.eq) > 1 else {"=": self.eq[0]})
        if self.ne:
            result.update({"nin": list(self.ne)} if self.ne_lists or len(self.ne) > 1 else {"!=": self.ne[0]})
        result.update(self.comparisons)
        return result


def parse_query(text: str, fields: Mapping[str, str]) -> dict[str, Any]:
    """The dictionary form of a command-line query such as ``zenith=10,11 energy<1.5``.

    Elements are ``name<op>value`` separated by whitespace, ``op`` one of
    ``= != < <= > >=``. A comma-separated value means ``in`` (``=``) or
    ``nin`` (``!=``); quotes group a value with spaces or commas. Several
    elements on one field combine: equalities into a list, different
    operators into one mapping (``zenith>=5 zenith<10`` -> ``{">=": 5, "<": 10}``).
    ``Any``/``Missing`` (unquoted) mean defined/undefined. Numbers are typed
    by the field (``fields`` maps declared names to types; the standard file
    keys are known too); dates are checked and kept as written.

    Raises :class:`QueryError`: "Illegal query element" for an element
    without an operator, "Metadata field X not defined" for an unknown field,
    and for a value of the wrong type, an empty value, an unclosed quote, a
    list with a comparison operator, or a contradiction.
    """
    merged: dict[str, _Conditions] = {}
    for token in _split_tokens(text):
        name, op, value_chars = _operator(token)
        field, kind = field_type(name, fields)
        parts = _split_values(value_chars)
        values: list[Any] = []
        specials = 0
        for part in parts:
            raw = "".join(c for c, _ in part)
            if not raw:
                raise QueryError(f"empty value for {name} in {''.join(c for c, _ in token)!r}", field=name)
            if raw in (ANY, MISSING) and not any(q for _, q in part):
                specials += 1
                values.append(raw)
            else:
                typed = coerce(raw, kind, field=field)
                values.append(raw if kind == "date" else typed)
        if specials and (op != "=" or len(values) > 1):
            raise QueryError(f"{ANY}/{MISSING} only stand alone after '=' ({name})", field=name)
        if len(values) > 1 and op not in ("=", "!="):
            raise QueryError("Illegal query: list of values for comparison operation "
                             f"({name}{op}{''.join(c for c, _ in value_chars)})", field=name)
        merged.setdefault(field, _Conditions(field)).add(op, values, special=bool(specials))
    return {field: conditions.condition() for field, conditions in merged.items()}


# --- the client-side matcher -------------------------------------------------

def _lookup(metadata: Mapping[str, Any], field: str) -> list[Any]:
    names = [field, *(alias for alias, target in STANDARD_KEY_ALIASES.items() if target == field)]
    for name in names:
        value = metadata.get(name)
        if value is not None:
            return list(value) if isinstance(value, set | frozenset | list | tuple) else [value]
    return []


_ORDERINGS = {Op.LT: operator.lt, Op.LE: operator.le, Op.GT: operator.gt, Op.GE: operator.ge}


def _holds(op: Op, expected: Any, actual: Any) -> bool:
    """Whether ``actual`` satisfies ``op expected``; for ``!=``/``nin``: whether it is excluded."""
    if op is Op.LIKE:
        return like_to_regex(expected).fullmatch(str(actual)) is not None
    if op in (Op.IN, Op.NIN):
        return bool(actual in expected)
    if op in (Op.EQ, Op.NE):
        return bool(actual == expected)
    return bool(_ORDERINGS[op](actual, expected))


def matches(query: Mapping[str, Any] | Sequence[Term], metadata: Mapping[str, Any],
            fields: Mapping[str, str], *, file_fields: Collection[str] = ()) -> bool:
    """Whether one file's (or directory's) ``metadata`` satisfies every term of ``query``.

    ``query`` is a dictionary query (normalised with ``fields`` and
    ``file_fields``, see :func:`normalize_query`) or already a sequence of
    :class:`Term`. A field absent from ``metadata`` (or None) satisfies only
    ``Missing``; ``Any`` accepts every value. A set, list or tuple value is
    multi-valued (like ``SE``): positive terms need one element to satisfy
    them, ``!=``/``nin`` need no element to be excluded, ``Missing`` means
    empty. Raises :class:`QueryError` for a bad query, or a value in
    ``metadata`` that cannot be converted to the field's type.
    """
    terms = normalize_query(query, fields, file_fields=file_fields) if isinstance(query, Mapping) \
        else tuple(query)
    for term in terms:
        values = _lookup(metadata, term.field)
        if term.op is Op.MISSING:
            if values:
                return False
            continue
        if not values:
            return False
        if term.op is Op.ANY:
            continue
        _, kind = field_type(term.field, fields)
        typed = [coerce(v, kind, field=term.field) for v in values]
        if term.op in (Op.NE, Op.NIN):
            if any(_holds(term.op, term.value, v) for v in typed):
                return False
        elif not any(_holds(term.op, term.value, v) for v in typed):
            return False
    return True

"""Transformations and productions as JSON: what ``/api/transformations``, ``/api/productions`` and
their remote clients exchange, written once for both sides.

Keys are the attribute names of the records (:class:`~dirac_core.transformation.TransformationSpec`,
:class:`~dirac_core.transformation.Transformation`, :class:`~dirac_core.transformation.Task`,
:class:`~dirac_core.transformation.TransformationFile`,
:class:`~dirac_core.transformation.TransformationStats`, and the production records of
:mod:`dirac_core.transformation.productions`); statuses are their values, times ISO 8601 with
their zone, tuples lists.

What comes in (a spec, a production definition) is read strictly, as JSON says it: ``"2"`` is
not a number, ``1`` is not a name, and an unknown key is an error, not something to drop. Any
malformed document becomes :class:`~dirac_core.errors.InvalidTransformation` whose message says
what is wrong and whose ``parameter`` field names the first key at fault (``name``,
``group_size``, ``steps``, ...), as the engine names the parameter it refuses.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar, get_args, get_origin

import attrs
import cattrs
from cattrs.errors import ClassValidationError, IterableValidationError, IterableValidationNote
from cattrs.gen import make_dict_structure_fn
from cattrs.v import format_exception

from dirac_core.errors import InvalidTransformation
from dirac_core.model.clock import ensure_utc
from dirac_core.transformation.productions import Production, ProductionProgress, ProductionStep, StepProgress
from dirac_core.transformation.records import (
    Task,
    Transformation,
    TransformationFile,
    TransformationSpec,
    TransformationStats,
)

__all__ = ["MAX_NAME", "ProductionDefinition", "decode", "definition_from_json", "definition_to_json",
           "encode", "spec_from_json", "spec_to_json"]

T = TypeVar("T")

#: the longest transformation or production name (the column's width)
MAX_NAME = 255


@attrs.frozen(kw_only=True)
class ProductionDefinition:
    """What ``POST /api/productions`` takes: :meth:`ProductionSystem.create`'s arguments."""

    name: str = attrs.field(validator=attrs.validators.and_(attrs.validators.min_len(1),
                                                            attrs.validators.max_len(MAX_NAME)))
    steps: tuple[ProductionStep, ...] = attrs.field(converter=tuple)
    description: str = ""


# -- the converter: strict on the way in ---------------------------------------------------------


def _strict(kind: type[T], *refused: type) -> Any:
    """A structure hook taking only values that already are ``kind`` (never converting)."""

    def hook(value: Any, _: Any) -> T:
        if not isinstance(value, kind) or isinstance(value, refused):
            raise TypeError(f"expected {kind.__name__}, got {type(value).__name__} {value!r:.60}")
        return value

    return hook


def _number(value: Any, _: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"expected a number, got {type(value).__name__} {value!r:.60}")
    return float(value)


def _member(value: Any, kind: type[StrEnum]) -> StrEnum:
    if not isinstance(value, str):
        raise TypeError(f"expected one of {', '.join(kind)}, got {type(value).__name__}")
    return kind(value)


def _is_tuple(kind: Any) -> bool:
    return get_origin(kind) is tuple


def _sequence(kind: Any) -> Any:
    """A structure hook for ``tuple[X, ...]`` taking JSON lists only (cattrs would take any
    iterable: a string as a list of characters), failures noted with their index as cattrs does."""
    item = get_args(kind)[0]

    def hook(value: Any, _: Any) -> tuple[Any, ...]:
        if not isinstance(value, list | tuple):
            raise TypeError(f"expected a JSON list, got {type(value).__name__} {value!r:.60}")
        out, errors = [], []
        for index, element in enumerate(value):
            try:
                out.append(_converter.structure(element, item))
            except Exception as exc:  # collected, as cattrs collects them
                exc.__notes__ = [*getattr(exc, "__notes__", []),
                                 IterableValidationNote(f"Structuring {kind} @ index {index}", index, item)]
                errors.append(exc)
        if errors:
            raise IterableValidationError(f"While structuring {kind!r}", errors, kind)
        return tuple(out)

    return hook


def _time(value: Any, _: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected an ISO 8601 time, got {type(value).__name__}")
    return ensure_utc(datetime.fromisoformat(value))


_converter = cattrs.Converter(forbid_extra_keys=True)
_converter.register_structure_hook(str, _strict(str))
_converter.register_structure_hook(int, _strict(int, bool))
_converter.register_structure_hook(bool, _strict(bool))
_converter.register_structure_hook(float, _number)
# a StrEnum is a str: without its own hook it would be structured (and left) as text
_converter.register_structure_hook(StrEnum, _member)
_converter.register_structure_hook_factory(_is_tuple, _sequence)
_converter.register_structure_hook(datetime, _time)
_converter.register_unstructure_hook(datetime, lambda d: d.isoformat())
_converter.register_unstructure_hook(tuple, list)
_converter.register_unstructure_hook(StrEnum, lambda member: member.value)
_RECORDS = (TransformationSpec, Transformation, TransformationFile, Task, TransformationStats, ProductionStep,
            Production, StepProgress, ProductionProgress, ProductionDefinition)
for _cls in _RECORDS:
    attrs.resolve_types(_cls)  # the annotations are strings (postponed evaluation)
    _converter.register_structure_hook(_cls, make_dict_structure_fn(_cls, _converter,
                                                                    _cattrs_forbid_extra_keys=True))


def _key_at_fault(exc: BaseException) -> str | None:
    """The top-level key a structuring error is about: the attribute cattrs noted, the unknown
    key, or the attribute an attrs validator refused (``'group_size' must be > 0: -1``)."""
    if isinstance(exc, cattrs.ForbiddenExtraKeysError):
        return sorted(exc.extra_fields)[0]
    if isinstance(exc, ClassValidationError | IterableValidationError):
        with_notes, without = exc.group_exceptions()
        for _, note in with_notes:
            if isinstance(name := getattr(note, "name", None), str):
                return name
        return next((key for inner in without if (key := _key_at_fault(inner)) is not None), None)
    if isinstance(exc, TypeError | ValueError) and exc.args:
        if len(exc.args) > 1 and isinstance(exc.args[1], attrs.Attribute):
            return exc.args[1].name
        found = _QUOTED.match(str(exc.args[0])) or _QUOTED.search(str(exc.args[0]).partition(" must ")[0])
        return found.group(1) if found else None
    return None


_QUOTED = re.compile(r"'(\w+)'")


def _reason(exc: BaseException, kind: type | None) -> str:
    """One failure, in words: the hooks' and validators' own messages rather than cattrs's
    generic "invalid value"."""
    if isinstance(exc, cattrs.ForbiddenExtraKeysError):
        return f"unknown key(s) {', '.join(sorted(exc.extra_fields))}"
    if isinstance(exc, KeyError):
        return "required key missing"
    if isinstance(exc, AttributeError):
        return "expected a JSON object"
    if isinstance(exc, TypeError | ValueError) and exc.args and isinstance(exc.args[0], str):
        return exc.args[0]
    return format_exception(exc, kind)


def _structure(data: Any, cls: type[T], what: str) -> T:
    """``data`` as ``cls``; :class:`InvalidTransformation` saying what is wrong and naming the key."""
    if not isinstance(data, dict):
        raise InvalidTransformation(f"a {what} is a JSON object, not {type(data).__name__}", parameter=what)
    try:
        return _converter.structure(data, cls)
    except cattrs.BaseValidationError as exc:
        reasons = "; ".join(cattrs.transform_error(exc, path=what, format_exception=_reason))
        raise InvalidTransformation(f"malformed {what}: {reasons}",
                                    parameter=_key_at_fault(exc) or what) from None
    except (TypeError, ValueError) as exc:  # an attrs validator, outside cattrs's detailed validation
        raise InvalidTransformation(f"malformed {what}: {_reason(exc, cls)}",
                                    parameter=_key_at_fault(exc) or what) from None


# -- specs in ------------------------------------------------------------------------------------


def spec_to_json(spec: TransformationSpec) -> dict[str, Any]:
    """A transformation spec as a JSON-ready dict."""
    out: dict[str, Any] = encode(spec)
    return out


def spec_from_json(data: Any) -> TransformationSpec:
    """The spec a JSON document describes; :class:`InvalidTransformation` naming the key at fault
    (a missing ``name``, a ``group_size`` that is not a positive number, an unknown key, ...)."""
    return _structure(data, TransformationSpec, "transformation")


def definition_to_json(name: str, steps: Sequence[ProductionStep], description: str = "") -> dict[str, Any]:
    """A production to create as a JSON-ready dict: ``name``, ``description``, ``steps``."""
    return {"name": name, "description": description, "steps": [encode(step) for step in steps]}


def definition_from_json(data: Any) -> ProductionDefinition:
    """A production to create from JSON; :class:`InvalidTransformation` naming the key at fault
    (for a step, ``steps`` and the step's position in the message)."""
    return _structure(data, ProductionDefinition, "production")


# -- records out ---------------------------------------------------------------------------------


def encode(record: Any) -> Any:
    """Any record of this module's list (or a list, dict or enum of them) as JSON-ready values."""
    return _converter.unstructure(record)


def decode(data: Any, cls: type[T]) -> T:
    """The record of type ``cls`` that :func:`encode` made; :class:`InvalidTransformation` when the
    document is not one (a server speaking another version, say)."""
    return _structure(data, cls, cls.__name__)

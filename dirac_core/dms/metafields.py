"""Metadata field types, the standard file keys, and the conversion of values to a field's type.

Used by :mod:`dirac_core.dms.metaquery` (which re-exports these names) and by
the catalogs when they store metadata values: a value is stored and compared
as the Python type of its field (``int``, ``float``, ``str``, tz-aware UTC
``datetime``).
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from dirac_core.errors import DiracError

__all__ = ["FIELD_TYPES", "STANDARD_FILE_KEYS", "STANDARD_KEY_ALIASES", "QueryError", "canonical_type",
           "coerce", "field_type", "shown_value"]

#: The declared field types.
FIELD_TYPES = ("int", "float", "string", "date")

#: Keys every file has without declaring them, with their types.
STANDARD_FILE_KEYS: Mapping[str, str] = {
    "Size": "int",
    "User": "string",
    "Group": "string",
    "Status": "string",
    "GUID": "string",
    "Checksum": "string",
    "CreationDate": "date",
    "ModificationDate": "date",
    "Name": "string",
    "SE": "string",
}

#: Other spellings of the standard keys (DIRAC accepts both); Terms carry the canonical name.
STANDARD_KEY_ALIASES: Mapping[str, str] = {"Owner": "User", "FileName": "Name", "CheckSum": "Checksum"}

_TYPE_ALIASES = {"int": "int", "integer": "int", "float": "float", "double": "float",
                 "str": "string", "string": "string", "varchar": "string", "date": "date",
                 "datetime": "date"}


class QueryError(DiracError):
    """A query that cannot be understood: an unknown field or operator, a badly typed value.

    ``field`` names the field concerned when there is one; for an unknown field
    ``known`` lists the fields that exist.
    """


def canonical_type(type_name: str) -> str:
    """The canonical spelling (one of :data:`FIELD_TYPES`) of a field type.

    Accepts the usual aliases case-insensitively (``INT``, ``integer``,
    ``VARCHAR(128)``, ``datetime``...); raises :class:`QueryError` for others.
    """
    key = str(type_name).strip().lower().split("(")[0].strip()
    try:
        return _TYPE_ALIASES[key]
    except KeyError:
        raise QueryError(f"unknown metadata type {type_name!r}; use one of {', '.join(FIELD_TYPES)}",
                         type=type_name) from None


def field_type(name: str, fields: Mapping[str, str]) -> tuple[str, str]:
    """``(canonical name, canonical type)`` of a query field.

    ``fields`` maps declared names to types and wins; then the standard file
    keys and their aliases. Raises :class:`QueryError` ("Metadata field X not
    defined", with ``field`` and the ``known`` names) for anything else.
    """
    if name in fields:
        return name, canonical_type(fields[name])
    canonical = STANDARD_KEY_ALIASES.get(name, name)
    if canonical in STANDARD_FILE_KEYS:
        return canonical, STANDARD_FILE_KEYS[canonical]
    known = sorted({*fields, *STANDARD_FILE_KEYS, *STANDARD_KEY_ALIASES})
    raise QueryError(f"Metadata field {name!r} not defined; known fields: {', '.join(known)}",
                     field=name, known=known)


def _to_datetime(value: object) -> datetime:
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str):
        moment = datetime.fromisoformat(value.strip())
    else:
        raise TypeError(type(value).__name__)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _to_int(value: object) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        number = int(value.strip())
    else:
        raise TypeError(type(value).__name__)
    if not -(2**63) <= number < 2**63:  # what a BIGINT column holds, on every backend
        raise OverflowError("out of the 64-bit range")
    return number


def _to_float(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise TypeError(type(value).__name__)
    number = float(value)
    if not math.isfinite(number):  # NaN compares with nothing; MariaDB stores no infinity
        raise ValueError("not a finite number")
    return number


def _to_string(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise TypeError(type(value).__name__)
    return str(value)


_CONVERTERS = {"int": _to_int, "float": _to_float, "string": _to_string, "date": _to_datetime}


def coerce(value: object, type_name: str, *, field: str = "") -> Any:
    """``value`` as the Python value of a ``type_name`` field; :class:`QueryError` if it is not one.

    ``int`` accepts ints, integral floats and numeric strings (never bools);
    ``float`` numbers and numeric strings (not NaN); ``string`` strings and
    numbers; ``date`` datetimes, dates and ISO 8601 strings (a naive time is
    UTC), always returned tz-aware in UTC.
    """
    kind = canonical_type(type_name)
    try:
        return _CONVERTERS[kind](value)
    except (TypeError, ValueError, OverflowError):
        shown = shown_value(value)
        raise QueryError(f"value {shown} of metadata {field or '?'} is not a valid {kind}",
                         field=field, value=shown) from None


_SHOWN = reprlib.Repr()  # Python 3.11's takes no arguments
_SHOWN.maxlevel, _SHOWN.maxstring, _SHOWN.maxother, _SHOWN.maxlist, _SHOWN.maxdict = 3, 80, 80, 8, 8


def shown_value(value: object) -> str:
    """``repr(value)`` cut short (long strings, big or deeply nested values), for messages."""
    return _SHOWN.repr(value)

"""The query language of job search: columns, operators, typed filters and sort keys.

Filters and sort keys validate and coerce themselves when built (the DiracX
CLI sends every scalar as a string); partial datetimes name a :func:`period`.
:mod:`dirac_core.wms.search` turns them into SQL.
"""

from __future__ import annotations

import operator as ops
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeAlias

import attrs
import sqlalchemy as sa

from dirac_core.db.tables.wms import jobs
from dirac_core.db.types import StrEnumType, UTCDateTime
from dirac_core.errors import DiracError
from dirac_core.model.clock import ensure_utc
from dirac_core.model.job import JobStatus

__all__ = ["COLUMNS", "LOGGING_INFO", "MAX_VALUES", "PILOT_STAMP", "Filter", "InvalidQuery",
           "ScalarFilter", "ScalarOperator", "Sort", "SortDirection", "VectorFilter",
           "VectorOperator", "parse_search", "parse_sort", "period"]

_Condition: TypeAlias = "sa.ColumnElement[bool]"


class InvalidQuery(DiracError):
    """A search, sort, grouping or paging argument is wrong (the server answers 400).

    The message names the culprit; ``parameter``, ``operator``, ``value`` are fields when known.
    """


class _Choice(StrEnum):
    """A string choice whose unknown values raise InvalidQuery listing the known ones."""

    @classmethod
    def _missing_(cls, value: object) -> None:
        what = "direction" if cls is SortDirection else "operator"
        known = ", ".join(repr(m.value) for m in cls)
        raise InvalidQuery(f"unknown {what} {value!r}; expected one of {known}", **{what: value})


class ScalarOperator(_Choice):
    """Operators taking one value (an unknown one raises InvalidQuery)."""

    EQ = "eq"
    NEQ = "neq"
    GT = "gt"
    LT = "lt"
    LIKE = "like"
    NOT_LIKE = "not like"
    REGEX = "regex"


class VectorOperator(_Choice):
    """Operators taking a list of values (an unknown one raises InvalidQuery)."""

    IN = "in"
    NOT_IN = "not in"


class SortDirection(_Choice):
    """Sort direction (an unknown one raises InvalidQuery)."""

    ASC = "asc"
    DESC = "desc"


#: DiracX parameter name -> ``wms_jobs`` column.
COLUMNS: Mapping[str, Any] = MappingProxyType({
    "JobID": jobs.c.job_id, "JobType": jobs.c.job_type, "JobGroup": jobs.c.job_group,
    "Site": jobs.c.site, "JobName": jobs.c.job_name, "Owner": jobs.c.owner,
    "OwnerGroup": jobs.c.owner_group, "VO": jobs.c.vo, "SubmissionTime": jobs.c.submission_time,
    "RescheduleTime": jobs.c.reschedule_time, "LastUpdateTime": jobs.c.last_update_time,
    "StartExecTime": jobs.c.start_exec_time, "HeartBeatTime": jobs.c.heartbeat_time,
    "EndExecTime": jobs.c.end_exec_time, "Status": jobs.c.status, "MinorStatus": jobs.c.minor_status,
    "ApplicationStatus": jobs.c.application_status, "UserPriority": jobs.c.user_priority,
    "RescheduleCounter": jobs.c.reschedule_counter, "VerifiedFlag": jobs.c.verified_flag,
    "AccountedFlag": jobs.c.accounted_flag,
})
#: Pseudo-parameter of ``parameters``: append each job's status history.
LOGGING_INFO = "LoggingInfo"
#: Pseudo-parameter of ``search`` (``eq``/``in`` only): the jobs a pilot ran.
PILOT_STAMP = "PilotStamp"
#: Largest ``per_page``.
MAX_PER_PAGE = 10_000
#: Most values in one ``in``/``not in`` filter (backends limit bound parameters per statement).
MAX_VALUES = 10_000

_PATTERN_OPS = frozenset({ScalarOperator.LIKE, ScalarOperator.NOT_LIKE, ScalarOperator.REGEX})
_COMPARE = {ScalarOperator.EQ: ops.eq, ScalarOperator.NEQ: ops.ne,
            ScalarOperator.GT: ops.gt, ScalarOperator.LT: ops.lt}
#: operators a column kind does not take (text and status take all)
_REFUSED = {"int": _PATTERN_OPS, "time": _PATTERN_OPS,
            "bool": _PATTERN_OPS | {ScalarOperator.GT, ScalarOperator.LT}}
_STATUSES = {s.value.lower(): s for s in JobStatus}
_BOOLS: Mapping[str, bool] = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
_PARTIAL = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[T ](\d{2})(?::(\d{2})(?::(\d{2})"
                      r"(?:\.(\d{1,6}))?)?)?(Z|[+-]\d{2}:?\d{2})?)?)?)?")
# PostgreSQL's SQLSTATE for a bad pattern; MariaDB's ER_REGEXP_ERROR and MySQL 8's ER_REGEXP_* codes
_PG_REGEX_ERROR = "2201B"
_MYSQL_REGEX_ERRORS = frozenset({1139, *range(3685, 3702)})
_KIND_OF_TYPE = ((UTCDateTime, "time"), (StrEnumType, "status"), (sa.Boolean, "bool"), (sa.Integer, "int"))
#: parameter -> "time", "status", "bool", "int" or "text"
_KINDS = {name: next((k for cls, k in _KIND_OF_TYPE if isinstance(col.type, cls)), "text")
          for name, col in COLUMNS.items()}


def _unknown(parameter: object, what: str = "parameter") -> InvalidQuery:
    return InvalidQuery(f"unknown {what} {parameter!r}; expected one of {', '.join(COLUMNS)}",
                        parameter=parameter)


def period(value: str | datetime) -> tuple[datetime, datetime]:
    """The half-open UTC period ``[start, end)`` that a full or partial timestamp names.

    ``"2025"`` is that year, ``"2025-08"`` that month, then day, hour
    (``"2025-08-25 10"`` or ``T10``), minute, second; a fraction of ``k`` digits
    is ``10**(6-k)`` microseconds long. A zone (``Z``, ``+02:00``) may follow
    the time, else the value is UTC. An aware datetime is the microsecond at
    it. Raises ``ValueError`` (naive datetime, malformed or impossible date) or
    ``TypeError``.
    """
    if isinstance(value, datetime):
        start = ensure_utc(value, name="datetime value")
        return start, start + timedelta(microseconds=1)
    if not isinstance(value, str):
        raise TypeError("expected a timestamp string")
    found = _PARTIAL.fullmatch(value.strip())
    if found is None:
        raise ValueError("expected YYYY[-MM[-DD[ HH[:MM[:SS[.ffffff]]]]]], a zone allowed after the time")
    year, month, day, hour, minute, second, fraction, zone = found.groups()
    tz = UTC
    if zone and zone != "Z":
        digits = zone[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        tz = timezone(-offset if zone[0] == "-" else offset)
    start = datetime(int(year), int(month or 1), int(day or 1), int(hour or 0), int(minute or 0),
                     int(second or 0), int(fraction.ljust(6, "0")) if fraction else 0, tzinfo=tz)
    if month is None:
        end = start.replace(year=start.year + 1)
    elif day is None:
        end = start.replace(year=start.year + start.month // 12, month=start.month % 12 + 1)
    else:
        end = start + (timedelta(microseconds=10 ** (6 - len(fraction))) if fraction
                       else timedelta(seconds=1) if second else timedelta(minutes=1) if minute
                       else timedelta(hours=1) if hour else timedelta(days=1))
    return start.astimezone(UTC), end.astimezone(UTC)


def _convert(kind: str, value: Any) -> Any:
    if kind == "time":
        return period(value)
    if (isinstance(value, bool) and kind != "bool") or not isinstance(value, str | int | float):
        raise TypeError(f"expected a {kind} value")
    text = str(value).strip()
    if kind == "int":
        if isinstance(value, float):
            raise TypeError("expected an integer")
        if not -(2**63) <= (number := int(text)) < 2**63:
            raise ValueError("out of range")
        return number
    table: Mapping[str, Any] = {"bool": _BOOLS, "status": _STATUSES}.get(kind, {})
    if table and text.lower() not in table:
        raise ValueError(f"expected one of {', '.join(map(str, _BOOLS if kind == 'bool' else JobStatus))}")
    return table[text.lower()] if table else str(value)


def _coerce(parameter: str, value: Any) -> Any:
    """``value`` as the column's Python type (a :func:`period` for datetimes); raises InvalidQuery."""
    try:
        return _convert(_KINDS.get(parameter, "text"), value)
    except (TypeError, ValueError, OverflowError) as exc:  # OverflowError: a date past year 9999
        raise InvalidQuery(f"bad value {value!r} for {parameter}: {exc}", parameter=parameter,
                           value=value) from None


def _check(parameter: object, operator: ScalarOperator | VectorOperator, values: Sequence[Any]) -> None:
    """Validate a filter: the parameter exists and takes the operator, and every value fits."""
    op = operator.value
    if parameter == PILOT_STAMP:
        if operator not in (ScalarOperator.EQ, VectorOperator.IN):
            raise InvalidQuery(f"{PILOT_STAMP} only takes eq or in, not {op!r}", parameter=parameter,
                               operator=op)
    elif not isinstance(parameter, str) or parameter not in COLUMNS:
        raise _unknown(parameter)
    elif operator in _REFUSED.get(_KINDS[parameter], ()):
        raise InvalidQuery(f"operator {op!r} does not apply to {parameter} (a {_KINDS[parameter]} column)",
                           parameter=parameter, operator=op)
    for value in values:
        if operator not in _PATTERN_OPS:
            _coerce(str(parameter), value)
        elif not isinstance(value, str):
            raise InvalidQuery(f"bad value {value!r} for {parameter}: a pattern must be a string",
                               parameter=parameter, value=value)
        elif operator is ScalarOperator.REGEX:
            try:
                re.compile(value)
            except re.error as exc:
                raise InvalidQuery(f"bad regular expression {value!r} for {parameter}: {exc}",
                                   parameter=parameter, value=value) from None


def _as_values(values: Iterable[Any]) -> tuple[Any, ...]:
    if isinstance(values, str | bytes | Mapping) or not isinstance(values, Iterable):
        raise InvalidQuery(f"values must be a list, got {values!r}", value=values)
    out = tuple(values)
    if len(out) > MAX_VALUES:
        raise InvalidQuery(f"at most {MAX_VALUES} values per filter, got {len(out)}", value=len(out))
    return out


@attrs.frozen
class ScalarFilter:
    """``parameter operator value`` with eq, neq, gt, lt, like, not like or regex.

    ``value`` is kept as given and coerced when the query is built. Raises
    :class:`InvalidQuery` for an unknown parameter or operator, a pattern
    operator on a non-text column, a bad pattern, or a value that does not
    coerce to the column's type.
    """

    parameter: str
    operator: ScalarOperator = attrs.field(converter=ScalarOperator)
    value: Any

    def __attrs_post_init__(self) -> None:
        _check(self.parameter, self.operator, [self.value])


@attrs.frozen
class VectorFilter:
    """``parameter in|not in values``; raises :class:`InvalidQuery` as :class:`ScalarFilter` does.

    ``values`` must be a list (kept as a tuple) of at most :data:`MAX_VALUES`.
    """

    parameter: str
    operator: VectorOperator = attrs.field(converter=VectorOperator)
    values: tuple[Any, ...] = attrs.field(converter=_as_values)

    def __attrs_post_init__(self) -> None:
        _check(self.parameter, self.operator, self.values)


Filter: TypeAlias = ScalarFilter | VectorFilter


def _sort_parameter(instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not isinstance(value, str) or value not in COLUMNS:
        raise _unknown(value, "sort parameter")


@attrs.frozen
class Sort:
    """A sort key: a column and ``asc`` (default) or ``desc``; raises :class:`InvalidQuery`."""

    parameter: str = attrs.field(validator=_sort_parameter)
    direction: SortDirection = attrs.field(default=SortDirection.ASC, converter=SortDirection)


def _object(where: str, item: object, allowed: set[str], required: set[str]) -> Mapping[str, Any]:
    if not isinstance(item, Mapping):
        raise InvalidQuery(f"{where}: expected an object, got {item!r}")
    if extra := sorted(map(str, set(item) - allowed)):
        raise InvalidQuery(f"{where}: unexpected key(s) {', '.join(extra)}")
    if missing := sorted(required - set(item)):
        raise InvalidQuery(f"{where}: missing key(s) {', '.join(missing)}")
    return item


def parse_search(items: Iterable[Mapping[str, Any]] | None) -> list[Filter]:
    """Filters from DiracX's JSON: ``[{"parameter", "operator", "value" | "values"}, ...]``.

    ``in``/``not in`` take ``values`` (a list), other operators ``value``.
    Raises :class:`InvalidQuery`, its message starting with ``search[<index>]``.
    """
    out: list[Filter] = []
    for i, raw in enumerate(items or ()):
        item = _object(where := f"search[{i}]", raw, {"parameter", "operator", "value", "values"},
                       {"parameter", "operator"})
        key = "values" if item["operator"] in tuple(VectorOperator) else "value"
        if key not in item or len(set(item) & {"value", "values"}) != 1:
            raise InvalidQuery(f"{where}: operator {item['operator']!r} takes {key!r}",
                               operator=item["operator"])
        try:
            out.append(VectorFilter(item["parameter"], item["operator"], item[key]) if key == "values"
                       else ScalarFilter(item["parameter"], item["operator"], item[key]))
        except InvalidQuery as exc:
            raise InvalidQuery(f"{where}: {exc.message}", **exc.fields) from None
    return out


def parse_sort(items: Iterable[Mapping[str, Any]] | None) -> list[Sort]:
    """Sort keys from DiracX's JSON: ``[{"parameter", "direction"}, ...]``; raises :class:`InvalidQuery`."""
    out: list[Sort] = []
    for i, raw in enumerate(items or ()):
        item = _object(f"sort[{i}]", raw, {"parameter", "direction"}, {"parameter"})
        try:
            out.append(Sort(item["parameter"], item.get("direction", SortDirection.ASC)))
        except InvalidQuery as exc:
            raise InvalidQuery(f"sort[{i}]: {exc.message}", **exc.fields) from None
    return out



"""Job search, sort, pagination and summaries in DiracX's ``/api/jobs/search`` format.

Parameters are DiracX's CamelCase names (:data:`COLUMNS`); rows are dicts keyed
by them (aware UTC datetimes, ``Status`` as its string value). Filters and sort
keys validate and coerce themselves when built (the DiracX CLI sends every
scalar as a string); partial datetimes name a :func:`period` and compare as
half-open ranges the column's index can serve. ``regex`` is checked with
Python's ``re`` and run by the database (REGEXP on MariaDB, ``~`` on PostgreSQL,
the ``regexp`` function SQLAlchemy's pysqlite dialect registers on SQLite),
case-sensitively everywhere; LIKE escapes with ``\\`` everywhere. Other
comparisons and LIKE follow the collation (case-insensitive on MariaDB's
``*_ci``, and ASCII LIKE on SQLite), except the exact ``owner`` visibility
filter. NULL sorts first ascending on every backend.

Cost of :func:`search`: the page query (``LIMIT/OFFSET`` walks and drops
``offset`` rows) plus a ``COUNT(*)`` of the whole filtered query, skipped when
the page shows where the result ends (a short non-empty page, an empty first
page). Keyset pagination (``after_job_id``) starts from the primary key instead
of skipping rows. See ``docs/wms.md``.
"""

from __future__ import annotations

import operator as ops
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from types import MappingProxyType
from typing import Any, TypeAlias

import attrs
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from dirac_core.db.tables.wms import job_history, job_to_pilot, jobs
from dirac_core.db.types import StrEnumType, UTCDateTime
from dirac_core.errors import DiracError
from dirac_core.model.clock import ensure_utc
from dirac_core.model.job import JobStatus

__all__ = ["COLUMNS", "LOGGING_INFO", "MAX_PER_PAGE", "MAX_VALUES", "PILOT_STAMP", "Filter",
           "InvalidQuery", "ScalarFilter", "ScalarOperator", "SearchPage", "Sort", "SortDirection",
           "VectorFilter", "VectorOperator", "parse_search", "parse_sort", "period", "search", "summary"]

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
    except (TypeError, ValueError) as exc:
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


@attrs.frozen
class SearchPage:
    """One page of results.

    ``first``/``last`` are the 0-based inclusive positions of ``rows`` in the
    whole result (``last == first - 1`` when ``rows`` is empty); ``total``
    counts the matching rows.
    """

    rows: list[dict[str, Any]]
    total: int
    first: int
    last: int

    @property
    def past_end(self) -> bool:
        """The page starts after the last row of a non-empty result (HTTP 416)."""
        return not self.rows and self.total > 0

    @property
    def partial(self) -> bool:
        """The page holds some, not all, of the rows (HTTP 206)."""
        return bool(self.rows) and len(self.rows) < self.total

    @property
    def http_status(self) -> int:
        """200, 206 (:attr:`partial`) or 416 (:attr:`past_end`)."""
        return 416 if self.past_end else 206 if self.partial else 200

    def content_range(self, unit: str = "jobs") -> str:
        """The ``Content-Range`` value: ``jobs 0-99/250``, or ``jobs */250`` for an empty page."""
        return f"{unit} {self.first}-{self.last}/{self.total}" if self.rows else f"{unit} */{self.total}"


def _vector_clause(flt: VectorFilter) -> _Condition:
    col = COLUMNS[flt.parameter]
    values = [_coerce(flt.parameter, v) for v in flt.values]
    if _KINDS[flt.parameter] != "time":
        found: _Condition = col.in_(values)
        return found if flt.operator is VectorOperator.IN else sa.not_(found)
    if flt.operator is VectorOperator.IN:
        return sa.or_(sa.false(), *(sa.and_(col >= start, col < end) for start, end in values))
    return sa.and_(sa.true(), *(sa.or_(col < start, col >= end) for start, end in values))


def _scalar_clause(flt: ScalarFilter, dialect: str) -> _Condition:
    col, op = COLUMNS[flt.parameter], flt.operator
    if op in _PATTERN_OPS:
        text = sa.type_coerce(col, sa.String())  # a Status pattern binds as text, not as a JobStatus
        if op is ScalarOperator.REGEX:
            # MariaDB/MySQL would ignore case under *_ci collations: match as Python's re does
            return text.regexp_match(("(?-i)" if dialect in ("mysql", "mariadb") else "") + flt.value)
        # an explicit escape: SQLite has no default one, MariaDB and PostgreSQL use backslash
        like = text.like(flt.value, escape="\\")
        return like if op is ScalarOperator.LIKE else sa.not_(like)
    value = _coerce(flt.parameter, flt.value)
    if _KINDS[flt.parameter] != "time":
        compared: _Condition = _COMPARE[op](col, value)
        return compared
    start, end = value
    ranges: dict[ScalarOperator, _Condition] = {
        ScalarOperator.EQ: sa.and_(col >= start, col < end), ScalarOperator.GT: col >= end,
        ScalarOperator.NEQ: sa.or_(col < start, col >= end), ScalarOperator.LT: col < start}
    return ranges[op]


def _conditions(conn: sa.Connection, filters: Sequence[Filter], owner: str | None) -> list[_Condition]:
    """The WHERE conditions; raises InvalidQuery for PilotStamp combined with JobID."""
    if {PILOT_STAMP, "JobID"} <= {f.parameter for f in filters}:
        raise InvalidQuery(f"{PILOT_STAMP} may not be combined with a JobID filter", parameter=PILOT_STAMP)
    conds: list[_Condition] = []
    for flt in filters:
        if flt.parameter == PILOT_STAMP:
            stamps = [str(v) for v in (flt.values if isinstance(flt, VectorFilter) else [flt.value])]
            ran = sa.select(job_to_pilot.c.job_id).where(job_to_pilot.c.pilot_stamp.in_(stamps))
            conds.append(jobs.c.job_id.in_(ran))
        else:
            conds.append(_vector_clause(flt) if isinstance(flt, VectorFilter)
                         else _scalar_clause(flt, conn.dialect.name))
    if owner is not None:
        conds.append(jobs.c.owner == owner)
        if conn.dialect.name in ("mysql", "mariadb"):  # *_ci collations: "Alice" would see alice's jobs
            conds.append(sa.func.binary(jobs.c.owner) == owner)
    return conds


@contextmanager
def _regex_guard(conn: sa.Connection, filters: Sequence[Filter]) -> Iterator[None]:
    """Turn the database's refusal of a pattern into InvalidQuery, keeping the caller's transaction."""
    if not any(isinstance(f, ScalarFilter) and f.operator is ScalarOperator.REGEX for f in filters):
        yield
        return
    try:
        with conn.begin_nested():  # a savepoint: PostgreSQL would abort the whole transaction
            yield
    except sa_exc.DBAPIError as exc:
        orig = exc.orig
        code = orig.args[0] if orig is not None and orig.args else None
        if getattr(orig, "sqlstate", None) != _PG_REGEX_ERROR and code not in _MYSQL_REGEX_ERRORS:
            raise
        reason = " ".join(str(orig).split())
        raise InvalidQuery(f"the database rejects the regular expression: {reason}") from exc


def _names(parameters: Sequence[str] | None, what: str) -> tuple[list[str], bool]:
    """Validated, de-duplicated column names, and whether LoggingInfo is among them."""
    if isinstance(parameters, str):
        raise InvalidQuery(f"{what}s must be a list of names, got {parameters!r}")
    names: list[str] = []
    for name in parameters or ():
        pseudo = name == LOGGING_INFO and what == "parameter"
        if not isinstance(name, str) or not (name in COLUMNS or pseudo):
            raise _unknown(name, what)
        if name not in names:
            names.append(name)
    return [n for n in names if n != LOGGING_INFO], LOGGING_INFO in names


def _order(sort: Sequence[Sort], names: Sequence[str], distinct: bool) -> list[sa.ColumnElement[Any]]:
    keys = list(sort) or ([] if distinct else [Sort("JobID")])
    if distinct and (outside := [s.parameter for s in keys if s.parameter not in names]):
        raise InvalidQuery(f"with distinct, sort keys must be among the parameters: {', '.join(outside)}",
                           parameter=outside[0])
    # tie-breakers make pages stable: JobID, or with distinct every selected column
    keys += [Sort(n) for n in (names if distinct else ["JobID"])]
    order: list[sa.ColumnElement[Any]] = []
    seen: set[str] = set()
    for key in keys:
        if key.parameter not in seen:
            seen.add(key.parameter)
            col, asc = COLUMNS[key.parameter], key.direction is SortDirection.ASC
            if col.nullable:  # NULL first ascending everywhere (PostgreSQL would put it last)
                order.append(col.is_(None).desc() if asc else col.is_(None).asc())
            order.append(col.asc() if asc else col.desc())
    return order


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, StrEnum) else value


def _logging_info(conn: sa.Connection, job_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """The accepted history records of ``job_ids``, oldest first, in one query."""
    out: dict[int, list[dict[str, Any]]] = {j: [] for j in job_ids}
    h = job_history.c
    stmt = (sa.select(h.job_id, h.status, h.minor_status, h.application_status, h.status_time, h.source)
            .where(h.job_id.in_(job_ids), h.refused == sa.false()).order_by(h.job_id, h.status_time, h.id))
    for job_id, status, minor, app, when, source in (conn.execute(stmt) if job_ids else ()):
        out[job_id].append({"Status": _plain(status), "MinorStatus": minor, "ApplicationStatus": app,
                            "StatusTime": when, "Source": source})
    return out


def _integer(name: str, value: object, low: int = 1, high: int | None = None) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high and value > high):
        bounds = f"in {low}..{high}" if high else f">= {low}"
        raise InvalidQuery(f"{name} must be an integer {bounds}, got {value!r}", parameter=name, value=value)


def search(conn: sa.Connection, parameters: Sequence[str] | None = None, search: Sequence[Filter] = (), *,
           sort: Sequence[Sort] = (), page: int = 1, per_page: int = 100, distinct: bool = False,
           owner: str | None = None, after_job_id: int | None = None) -> SearchPage:
    """One page of the jobs matching every filter of ``search``.

    ``parameters`` names each row's columns (None or empty: all of
    :data:`COLUMNS`); :data:`LOGGING_INFO` among them adds JobID if missing
    and the job's accepted status history, oldest first, in one query:
    ``[{Status, MinorStatus, ApplicationStatus, StatusTime, Source}]`` (None:
    a part the record left unchanged). ``sort`` defaults to JobID ascending;
    JobID always breaks ties (with ``distinct`` the selected columns do, and
    sort keys must be selected). ``page`` is 1-based, ``per_page`` in
    1..:data:`MAX_PER_PAGE`. ``owner`` keeps only that owner's jobs.

    ``after_job_id`` is keyset pagination: the rows after that job id in
    JobID order (``sort`` empty or JobID alone, either direction; ``page``
    counts from there); pass a page's last JobID to get the next page.

    Raises :class:`InvalidQuery` for bad arguments, PilotStamp with a JobID
    filter, or a pattern the database rejects.
    """
    _integer("page", page)
    _integer("per_page", per_page, high=MAX_PER_PAGE)
    names, logging_info = _names(parameters, "parameter")
    names = names or list(COLUMNS)
    if logging_info and "JobID" not in names:
        names.insert(0, "JobID")
    conds = _conditions(conn, search, owner)
    stmt = sa.select(*(COLUMNS[n] for n in names)).where(*conds)
    stmt = stmt.distinct() if distinct else stmt
    offset = (page - 1) * per_page
    keyset_count = None
    if after_job_id is not None:
        _integer("after_job_id", after_job_id, low=0)
        if len(sort) > 1 or any(s.parameter != "JobID" for s in sort) or ("JobID" not in names and distinct):
            raise InvalidQuery("after_job_id needs the results sorted by JobID alone (and JobID selected "
                               "with distinct)", parameter="JobID")
        sort = sort or [Sort("JobID")]
        asc = sort[0].direction is SortDirection.ASC
        key = jobs.c.job_id
        stmt = stmt.where(key > after_job_id if asc else key < after_job_id)
        before = key <= after_job_id if asc else key >= after_job_id
        # the total and the page's position in one scan of the filtered jobs
        keyset_count = sa.select(sa.func.count(), sa.func.count(sa.case((before, 1)))).where(*conds)
    order = _order(sort, names, distinct)
    with _regex_guard(conn, search):
        rows = conn.execute(stmt.order_by(*order).limit(per_page).offset(offset)).all()
        if keyset_count is not None:
            total, skipped = conn.execute(keyset_count.select_from(jobs)).one()
            offset += skipped
        elif (rows and len(rows) < per_page) or (not rows and offset == 0):
            total = offset + len(rows)  # the page shows where the result ends: no COUNT needed
        else:
            counted = (sa.select(sa.func.count()).select_from(stmt.subquery()) if distinct
                       else sa.select(sa.func.count()).select_from(jobs).where(*conds))
            total = conn.execute(counted).scalar_one()
    out = [{name: _plain(v) for name, v in zip(names, row, strict=True)} for row in rows]
    if logging_info:
        history = _logging_info(conn, [found["JobID"] for found in out])
        for found in out:
            found[LOGGING_INFO] = history[found["JobID"]]
    return SearchPage(rows=out, total=int(total), first=offset, last=offset + len(out) - 1)


def summary(conn: sa.Connection, grouping: Sequence[str], search: Sequence[Filter] = (), *,
            owner: str | None = None) -> list[dict[str, Any]]:
    """Counts of the matching jobs per distinct value of the ``grouping`` columns.

    Returns ``[{<grouping parameter>: value, ..., "count": n}]`` ordered by the
    grouping columns; ``search`` and ``owner`` act as in :func:`search`.
    Raises :class:`InvalidQuery` for an empty grouping or an unknown column.
    """
    names, _ = _names(grouping, "grouping parameter")
    if not names:
        raise InvalidQuery("grouping needs at least one column")
    cols = [COLUMNS[n] for n in names]
    stmt = (sa.select(*cols, sa.func.count()).where(*_conditions(conn, search, owner))
            .group_by(*cols).order_by(*_order([], names, distinct=True)))
    with _regex_guard(conn, search):
        rows = conn.execute(stmt).all()
    return [{**{n: _plain(v) for n, v in zip(names, row[:-1], strict=True)}, "count": int(row[-1])}
            for row in rows]

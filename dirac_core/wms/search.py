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

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from enum import StrEnum
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from dirac_core.db.tables.wms import job_history, job_to_pilot, jobs
from dirac_core.wms import status_counts
from dirac_core.wms.query import (  # re-exported: the query language lives there
    _COMPARE,
    _KINDS,
    _MYSQL_REGEX_ERRORS,
    _PATTERN_OPS,
    _PG_REGEX_ERROR,
    COLUMNS,
    LOGGING_INFO,
    MAX_PER_PAGE,
    MAX_VALUES,
    PILOT_STAMP,
    Filter,
    InvalidQuery,
    ScalarFilter,
    ScalarOperator,
    Sort,
    SortDirection,
    VectorFilter,
    VectorOperator,
    _coerce,
    _Condition,
    _unknown,
    parse_search,
    parse_sort,
    period,
)

__all__ = ["COLUMNS", "LOGGING_INFO", "MAX_PER_PAGE", "MAX_VALUES", "PILOT_STAMP", "Filter",
           "InvalidQuery", "ScalarFilter", "ScalarOperator", "SearchPage", "Sort", "SortDirection",
           "VectorFilter", "VectorOperator", "parse_search", "parse_sort", "period", "search", "summary"]


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


#: the filters the maintained status counts can answer, by parameter -> their keyword
_COUNTED = {"VO": "vo", "OwnerGroup": "owner_group"}


def _counted_scope(names: Sequence[str], search: Sequence[Filter], owner: str | None
                   ) -> dict[str, str] | None:
    """The VO and group of a status count that :mod:`~dirac_core.wms.status_counts` answers
    (grouped by status alone, any owner, at most ``VO eq`` and ``OwnerGroup eq``), else None."""
    if list(names) != ["Status"] or owner is not None:
        return None
    scope: dict[str, str] = {}
    for item in search:
        if (not isinstance(item, ScalarFilter) or item.operator is not ScalarOperator.EQ
                or item.parameter not in _COUNTED or _COUNTED[item.parameter] in scope
                or not isinstance(item.value, str)):
            return None
        scope[_COUNTED[item.parameter]] = item.value
    return scope


def summary(conn: sa.Connection, grouping: Sequence[str], search: Sequence[Filter] = (), *,
            owner: str | None = None) -> list[dict[str, Any]]:
    """Counts of the matching jobs per distinct value of the ``grouping`` columns.

    Returns ``[{<grouping parameter>: value, ..., "count": n}]`` ordered by the
    grouping columns; ``search`` and ``owner`` act as in :func:`search`. Counts by status
    of a VO or group (the job monitor's) are read from the maintained counts.
    Raises :class:`InvalidQuery` for an empty grouping or an unknown column.
    """
    names, _ = _names(grouping, "grouping parameter")
    if not names:
        raise InvalidQuery("grouping needs at least one column")
    scope = _counted_scope(names, search, owner)
    if scope is not None:  # the maintained counts answer it: no index scan over the VO's jobs
        found = status_counts.counts(conn, **scope)
        return [{names[0]: status, "count": found[status]} for status in sorted(found)]
    cols = [COLUMNS[n] for n in names]
    stmt = (sa.select(*cols, sa.func.count()).where(*_conditions(conn, search, owner))
            .group_by(*cols).order_by(*_order([], names, distinct=True)))
    with _regex_guard(conn, search):
        rows = conn.execute(stmt).all()
    return [{**{n: _plain(v) for n, v in zip(names, row[:-1], strict=True)}, "count": int(row[-1])}
            for row in rows]

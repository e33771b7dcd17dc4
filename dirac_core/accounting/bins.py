"""Time bins: which bin a timestamp falls in, computed by the database, the same on every backend.

A report groups rows by ``(bin, key)`` in SQL, so the bin must be an SQL expression; date
arithmetic differs per dialect, so it is written once here, as one SQLAlchemy element compiled
for each dialect (:class:`time_bin`). The value is an integer *bin number*: for hours, days and
weeks the number of whole bins since the Unix epoch (weeks start on Monday), for months
``year * 12 + month - 1``. :func:`bin_start` turns a number back into the bin's first instant,
:func:`bin_starts` lists the bins covering a period (empty ones included, so a plot has no gaps).

Timestamps are stored as naive UTC (see :class:`~dirac_core.db.types.UTCDateTime`); each
dialect's expression reads them without any session time zone: SQLite's ``strftime('%s')`` of
the ISO text cut to whole seconds, MariaDB's ``TIMESTAMPDIFF`` from the epoch (``UNIX_TIMESTAMP``
would apply the session's zone), PostgreSQL's ``EXTRACT(EPOCH)`` of a ``timestamp without time
zone``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.expression import ColumnElement, FunctionElement
from sqlalchemy.sql.visitors import InternalTraversal

from dirac_core.model.clock import ensure_utc

__all__ = ["TimeBin", "bin_number", "bin_seconds", "bin_start", "bin_starts", "choose_bin", "time_bin"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: 1970-01-05, the first Monday after the epoch: weeks are counted from there
_FIRST_MONDAY = 4 * 86_400


class TimeBin(StrEnum):
    """The width of a time bin."""

    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    @property
    def seconds(self) -> int:
        """The bin's length (a month counts 30 days: for rates, use :func:`bin_seconds`)."""
        return {"hour": 3600, "day": 86_400, "week": 7 * 86_400, "month": 30 * 86_400}[self.value]


def choose_bin(since: datetime, until: datetime) -> TimeBin:
    """The bin for a period, so that a plot gets a readable number of bars (about 24 to 60):
    hours up to two days, days up to two months, weeks up to a year, months beyond."""
    span = until - since
    if span <= timedelta(days=2):
        return TimeBin.HOUR
    if span <= timedelta(days=62):
        return TimeBin.DAY
    if span <= timedelta(days=366):
        return TimeBin.WEEK
    return TimeBin.MONTH


class time_bin(FunctionElement[int]):  # an SQL function: named as one
    """``time_bin(column, TimeBin.DAY)``: the bin number of a timestamp column, as an integer.

    Compiled per dialect with the bin's constants as integer literals, so that the same
    expression in the select list and in ``GROUP BY`` is the same text (PostgreSQL refuses
    a grouped expression whose bound parameters differ from the selected one's). The width is
    part of the cache key: without it SQLAlchemy's compiled cache would serve an hourly query
    the SQL of a daily one compiled earlier on the same engine.
    """

    type = sa.BigInteger()
    name = "time_bin"
    inherit_cache = True
    _traverse_internals = [*FunctionElement._traverse_internals, ("width", InternalTraversal.dp_string)]

    def __init__(self, column: ColumnElement[Any], width: TimeBin) -> None:
        self.width = TimeBin(width)
        super().__init__(column)


def _argument(element: time_bin, compiler: SQLCompiler, **kw: Any) -> str:
    (column,) = element.clauses
    return compiler.process(column, **kw)


def _epoch_bin(epoch: str, width: TimeBin) -> tuple[str, int]:
    offset = _FIRST_MONDAY if width is TimeBin.WEEK else 0
    return f"({epoch} - {offset:d})", width.seconds


@compiles(time_bin, "sqlite")
def _sqlite(element: time_bin, compiler: SQLCompiler, **kw: Any) -> str:
    # the text without its fraction: SQLite's date functions round 23:59:59.9999 up to the next day
    column = f"substr({_argument(element, compiler, **kw)}, 1, 19)"
    if element.width is TimeBin.MONTH:
        return (f"(CAST(strftime('%Y', {column}) AS INTEGER) * 12"
                f" + CAST(strftime('%m', {column}) AS INTEGER) - 1)")
    shifted, size = _epoch_bin(f"CAST(strftime('%s', {column}) AS INTEGER)", element.width)
    return f"({shifted} / {size:d})"  # integers: SQLite divides them as integers


@compiles(time_bin, "mysql")
@compiles(time_bin, "mariadb")
def _mysql(element: time_bin, compiler: SQLCompiler, **kw: Any) -> str:
    column = _argument(element, compiler, **kw)
    if element.width is TimeBin.MONTH:
        return f"(YEAR({column}) * 12 + MONTH({column}) - 1)"
    shifted, size = _epoch_bin(f"TIMESTAMPDIFF(SECOND, '1970-01-01 00:00:00', {column})", element.width)
    return f"({shifted} DIV {size:d})"


@compiles(time_bin, "postgresql")
def _postgresql(element: time_bin, compiler: SQLCompiler, **kw: Any) -> str:
    column = _argument(element, compiler, **kw)
    if element.width is TimeBin.MONTH:
        return (f"(CAST(EXTRACT(YEAR FROM {column}) AS INTEGER) * 12"
                f" + CAST(EXTRACT(MONTH FROM {column}) AS INTEGER) - 1)")
    # FLOOR first: a cast to BIGINT rounds, putting 00:59:59.7 in the next hour
    shifted, size = _epoch_bin(f"CAST(FLOOR(EXTRACT(EPOCH FROM {column})) AS BIGINT)", element.width)
    return f"({shifted} / {size:d})"


def bin_number(moment: datetime, width: TimeBin) -> int:
    """The bin number of an aware datetime, as :class:`time_bin` computes it in SQL."""
    moment = ensure_utc(moment, name="time")
    if width is TimeBin.MONTH:
        return moment.year * 12 + moment.month - 1
    offset = _FIRST_MONDAY if width is TimeBin.WEEK else 0
    return int((moment - EPOCH).total_seconds() - offset) // width.seconds


def bin_start(number: int, width: TimeBin) -> datetime:
    """The first instant (aware UTC) of bin ``number``."""
    if width is TimeBin.MONTH:
        return datetime(number // 12, number % 12 + 1, 1, tzinfo=UTC)
    offset = _FIRST_MONDAY if width is TimeBin.WEEK else 0
    return EPOCH + timedelta(seconds=number * width.seconds + offset)


def bin_seconds(number: int, width: TimeBin) -> float:
    """The length of bin ``number`` in seconds (months differ)."""
    return (bin_start(number + 1, width) - bin_start(number, width)).total_seconds()


def bin_starts(since: datetime, until: datetime, width: TimeBin) -> list[int]:
    """The numbers of the bins that hold some of ``[since, until)``, in order."""
    first = bin_number(since, width)
    last = bin_number(until - timedelta(microseconds=1), width) if until > since else first
    return list(range(first, last + 1))

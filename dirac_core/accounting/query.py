"""Aggregation of accounting records in SQL: one measure, by time bin and by any key, filtered.

Each record type is a :class:`Source`: its table, the *keys* a report may group or filter by
(``site``, ``owner``, ``group``, ``status``, ``ce``, ``pair`` of SEs, ...) and the *measures* it
can sum (``jobs``, ``cpu`` hours, ``bytes``, ``throughput``, ...). :func:`aggregate` runs one
``SELECT bin, key, aggregate ... GROUP BY bin, key`` over a time range (the time column's index
serves it) and returns an :class:`Aggregation`: a value per key and bin, empty bins filled with
zeros. Keys and measures are looked up by name in these tables, never put into SQL as text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy import Connection, Table

from dirac_core.accounting.bins import TimeBin, bin_seconds, bin_start, bin_starts, time_bin
from dirac_core.accounting.records import RecordType
from dirac_core.db.tables import accounting as t
from dirac_core.errors import DiracError
from dirac_core.model.clock import ensure_utc

__all__ = ["MAX_BINS", "SOURCES", "Aggregation", "InvalidReport", "Measure", "Source", "aggregate",
           "conditions", "source_of"]


#: Most time bins in one report (a year of hours is 8,760: ask for days).
MAX_BINS = 2000


class InvalidReport(DiracError):
    """A report names an unknown kind, key, measure or bin, or a bad period (the server answers 400)."""


@attrs.frozen
class Measure:
    """What a report adds up: an SQL aggregate, its unit, and a divisor applied to the sum (3600:
    seconds shown as hours).

    A ``rate`` is divided by the length of its bin (bytes per second of each hour, say).
    """

    label: str
    unit: str
    aggregate: Callable[[Table], sa.ColumnElement[Any]]
    divisor: float = 1.0
    rate: bool = False


@attrs.frozen
class Source:
    """A record type as reports see it: table, time column, keys and measures by name."""

    record: RecordType
    table: Table
    keys: Mapping[str, sa.ColumnElement[Any]]
    measures: Mapping[str, Measure]

    @property
    def time(self) -> sa.Column[Any]:
        """The time a record is binned by: when it ended."""
        column: sa.Column[Any] = self.table.c.end_time
        return column

    def key(self, name: str) -> sa.ColumnElement[Any]:
        """The expression of key ``name``; raises :class:`InvalidReport` naming the known keys."""
        if name not in self.keys:
            raise InvalidReport(f"unknown key {name!r} for {self.record} records; expected one of "
                                f"{', '.join(self.keys)}", key=name)
        return self.keys[name]

    def measure(self, name: str) -> Measure:
        """Measure ``name``; raises :class:`InvalidReport` naming the known measures."""
        if name not in self.measures:
            raise InvalidReport(f"unknown measure {name!r} for {self.record} records; expected one of "
                                f"{', '.join(self.measures)}", measure=name)
        return self.measures[name]


def _count(table: Table) -> sa.ColumnElement[Any]:
    return sa.func.count()


def _sum(column: str) -> Callable[[Table], sa.ColumnElement[Any]]:
    def aggregate(table: Table) -> sa.ColumnElement[Any]:
        return sa.func.coalesce(sa.func.sum(table.c[column]), 0)
    return aggregate


# Constants as literal SQL text, never bound parameters: a grouped expression must render the
# same in the select list and in GROUP BY (PostgreSQL compares the text, parameters included).
_ARROW = sa.literal_column("' -> '", sa.String())
_OUTCOME = sa.case((t.data_operations.c.success, sa.literal_column("'Succeeded'", sa.String())),
                   else_=sa.literal_column("'Failed'", sa.String()))

#: Every record type's keys and measures.
SOURCES: Mapping[RecordType, Source] = MappingProxyType({
    RecordType.JOB: Source(RecordType.JOB, t.jobs, MappingProxyType({
        "site": t.jobs.c.site, "owner": t.jobs.c.owner, "group": t.jobs.c.owner_group,
        "vo": t.jobs.c.vo, "status": t.jobs.c.status, "job_type": t.jobs.c.job_type,
    }), MappingProxyType({
        "jobs": Measure("Jobs", "jobs", _count),
        "cpu": Measure("CPU time", "CPU hours", _sum("cpu_seconds"), divisor=3600),
        "wall": Measure("Wall-clock time", "hours", _sum("wall_seconds"), divisor=3600),
    })),
    RecordType.PILOT: Source(RecordType.PILOT, t.pilots, MappingProxyType({
        "site": t.pilots.c.site, "ce": t.pilots.c.ce, "queue": t.pilots.c.queue,
        "status": t.pilots.c.status, "vo": t.pilots.c.vo,
    }), MappingProxyType({
        "pilots": Measure("Pilots", "pilots", _count),
        "jobs": Measure("Jobs run by pilots", "jobs", _sum("jobs")),
        "wall": Measure("Pilot wall-clock time", "hours", _sum("wall_seconds"), divisor=3600),
    })),
    RecordType.DATA: Source(RecordType.DATA, t.data_operations, MappingProxyType({
        "operation": t.data_operations.c.operation, "source": t.data_operations.c.source_se,
        "target": t.data_operations.c.target_se,
        "pair": t.data_operations.c.source_se + _ARROW + t.data_operations.c.target_se,
        "status": _OUTCOME, "vo": t.data_operations.c.vo,
    }), MappingProxyType({
        "operations": Measure("Data operations", "operations", _count),
        "files": Measure("Files", "files", _sum("files")),
        "bytes": Measure("Data", "bytes", _sum("bytes")),
        "throughput": Measure("Transfer throughput", "bytes/s", _sum("bytes"), rate=True),
        "seconds": Measure("Transfer time", "hours", _sum("seconds"), divisor=3600),
    })),
})


@attrs.frozen(kw_only=True)
class Aggregation:
    """A measure per key, per time bin (``width`` None: one value per key for the whole period).

    ``keys`` are ordered by their total, largest first; ``series[key][i]`` is the value in the bin
    starting at ``bins[i]``; ``totals[key]`` is the value over the whole period (for a rate, the
    mean rate over the period).
    """

    record: RecordType
    measure: str
    group_by: str | None
    since: datetime
    until: datetime
    width: TimeBin | None
    bins: list[datetime]
    keys: list[str]
    series: dict[str, list[float]]
    totals: dict[str, float]
    unit: str
    label: str


def source_of(record: RecordType | str) -> Source:
    """The :class:`Source` of a record type given by name; raises :class:`InvalidReport`."""
    try:
        return SOURCES[RecordType(record)]
    except ValueError:
        raise InvalidReport(f"unknown record type {record!r}; expected one of "
                            f"{', '.join(RecordType)}", record=record) from None


def _plain(value: Any) -> str:
    if isinstance(value, StrEnum):
        return value.value
    return "" if value is None else str(value)


def _check_values(source: Source, name: str, values: Sequence[Any]) -> list[Any]:
    """Filter values as the key's column takes them (an enum column checks its members)."""
    column = source.key(name)
    kind = getattr(column.type, "enum_cls", None)
    if kind is None:
        return [str(v) for v in values]
    try:
        return [kind(v) for v in values]
    except ValueError:
        raise InvalidReport(f"bad value for {name}: expected one of {', '.join(kind)}",
                            key=name, values=list(values)) from None


def conditions(source: Source, *, since: datetime, until: datetime,
               filters: Mapping[str, Sequence[Any]] | None = None, vo: str | None = None
               ) -> list[sa.ColumnElement[bool]]:
    """The WHERE conditions of a report: the period, the VO, each key among its values."""
    conds: list[sa.ColumnElement[bool]] = [source.time >= since, source.time < until]
    if vo is not None:
        conds.append(source.table.c.vo == vo)
    for name, values in (filters or {}).items():
        conds.append(source.key(name).in_(_check_values(source, name, values)))
    return conds


def aggregate(conn: Connection, record: RecordType | str, measure: str, *, since: datetime,
              until: datetime, group_by: str | None = None, width: TimeBin | str | None = None,
              filters: Mapping[str, Sequence[Any]] | None = None, vo: str | None = None) -> Aggregation:
    """``measure`` of the ``record`` records that ended in ``[since, until)``, per key of
    ``group_by`` (None: one series, ``"total"``) and per bin of ``width`` (None: no bins).

    ``filters`` keeps the records whose key takes one of the given values; ``vo`` those of one
    VO. Raises :class:`InvalidReport` for an unknown record type, key or measure, a bad filter
    value, or an empty or naive period.
    """
    source = source_of(record)
    try:
        chosen = None if width is None else TimeBin(width)
    except ValueError:
        raise InvalidReport(f"unknown time bin {width!r}; expected one of {', '.join(TimeBin)}",
                            bin=width) from None
    try:
        since, until = ensure_utc(since, name="since"), ensure_utc(until, name="until")
    except ValueError as exc:
        raise InvalidReport(str(exc)) from None
    if until <= since:
        raise InvalidReport(f"the period is empty: until ({until:%Y-%m-%d %H:%M}) is not after since "
                            f"({since:%Y-%m-%d %H:%M})")
    spec = source.measure(measure)
    numbers = bin_starts(since, until, chosen) if chosen is not None else []
    if len(numbers) > MAX_BINS:
        raise InvalidReport(f"{len(numbers)} bins of one {chosen} are too many (at most {MAX_BINS}): "
                            "choose a wider bin or a shorter period", bins=len(numbers))
    columns: list[sa.ColumnElement[Any]] = []
    if chosen is not None:
        columns.append(time_bin(source.time, chosen).label("bin"))
    if group_by is not None:
        columns.append(source.key(group_by).label("key"))
    stmt = (sa.select(*columns, spec.aggregate(source.table).label("value"))
            .where(*conditions(source, since=since, until=until, filters=filters, vo=vo)))
    if columns:
        stmt = stmt.group_by(*(c.element for c in columns))
    rows = conn.execute(stmt).mappings().all()
    position = {n: i for i, n in enumerate(numbers)}
    series: dict[str, list[float]] = {}
    raw_totals: dict[str, float] = {}
    for row in rows:
        key = _plain(row["key"]) if group_by is not None else "total"
        value = float(row["value"] or 0)
        raw_totals[key] = raw_totals.get(key, 0.0) + value
        if chosen is not None:
            values = series.setdefault(key, [0.0] * len(numbers))
            number = int(row["bin"])
            if number in position:  # always: the period's bins hold every row the WHERE keeps
                rate = bin_seconds(number, chosen) if spec.rate else 1.0
                values[position[number]] += value / spec.divisor / rate
    period = (until - since).total_seconds()
    totals = {k: v / spec.divisor / (period if spec.rate else 1.0) for k, v in raw_totals.items()}
    keys = sorted(totals, key=lambda k: (-totals[k], k))
    return Aggregation(record=source.record, measure=measure, group_by=group_by, since=since, until=until,
                       width=chosen, bins=[bin_start(n, chosen) for n in numbers] if chosen else [],
                       keys=keys, series={k: series.get(k, [0.0] * len(numbers)) for k in keys},
                       totals=totals, unit=spec.unit, label=spec.label)

"""The accounting engine: ``Interware.accounting``.

It writes records in bulk (:meth:`Accounting.add`), produces them itself through its hook
implementations when jobs and pilots end and when the data manager moves files
(:class:`~dirac_core.accounting.hooks.AccountingHooks`, registered in the hook manager it is
given), and answers reports: aggregations in SQL by time bin and key, as tables, JSON, PNG or SVG.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import pluggy
from sqlalchemy import Table, select

from dirac_core.accounting import producers
from dirac_core.accounting.bins import TimeBin, choose_bin
from dirac_core.accounting.hooks import AccountingHooks
from dirac_core.accounting.plots import render
from dirac_core.accounting.query import (
    SOURCES,
    Aggregation,
    InvalidReport,
    aggregate,
    conditions,
    source_of,
)
from dirac_core.accounting.records import (
    DataOperationRecord,
    JobRecord,
    PilotRecord,
    RecordType,
    as_plain,
)
from dirac_core.accounting.reports import KINDS, Chart, Report, ReportKind
from dirac_core.db.bulk import bulk_insert
from dirac_core.db.database import Database
from dirac_core.db.tables import accounting as tables
from dirac_core.model.clock import Clock

__all__ = ["Accounting"]

Record = JobRecord | PilotRecord | DataOperationRecord
_TABLES: Mapping[type[Any], Table] = {JobRecord: tables.jobs, PilotRecord: tables.pilots,
                                      DataOperationRecord: tables.data_operations}
#: The period of a report given no ``since``.
DEFAULT_PERIOD = timedelta(days=7)


class Accounting:
    """Records of jobs, pilots and data operations, and reports over them.

    Built from the database and clock; given ``hooks``, it registers its hook implementations
    there (and :meth:`close` removes them), so that records are produced as work ends.
    """

    def __init__(self, *, database: Database, clock: Clock, hooks: pluggy.PluginManager | None = None
                 ) -> None:
        self.database = database
        self.clock = clock
        #: the hook implementations producing records
        self.hook_impl = AccountingHooks(self)
        self._hooks = hooks
        if hooks is not None:
            hooks.register(self.hook_impl, name=f"dirac-core:accounting:{id(self)}")

    # -- writing -----------------------------------------------------------------------

    def add(self, records: Iterable[Record]) -> int:
        """Write records (any mix of types) in one transaction, a bulk insert per type; how many."""
        by_table: dict[Table, list[dict[str, Any]]] = {}
        for record in records:
            by_table.setdefault(_TABLES[type(record)], []).append(record.row())
        if not by_table:
            return 0
        with self.database.begin() as conn:
            for table, rows in by_table.items():
                bulk_insert(conn, table, rows)
        return sum(len(rows) for rows in by_table.values())

    def account_jobs(self, job_ids: Sequence[int], *, when: datetime | None = None) -> list[JobRecord]:
        """Write the records of the jobs among ``job_ids`` that ended (Done, Failed, Killed) and
        were not accounted yet; the records written. ``when`` is the end time of a job without
        an execution end time (default: now)."""
        if not job_ids:
            return []
        lock = self.database.dialect != "sqlite"  # SQLite's write lock serializes already
        with self.database.begin() as conn:
            records = producers.job_records(conn, job_ids, when or self.clock.now(), lock=lock)
            if records:
                bulk_insert(conn, tables.jobs, [r.row() for r in records])
                producers.mark_accounted(conn, [r.job_id for r in records])
        return records

    def reopen_jobs(self, job_ids: Sequence[int]) -> None:
        """Jobs that will run again (rescheduled): their next end is accounted as a new record."""
        if job_ids:
            with self.database.begin() as conn:
                producers.reopen(conn, job_ids)

    def account_pilot(self, stamp: str, details: Mapping[str, Any] | None = None) -> PilotRecord | None:
        """Write the record of a pilot that ended (see :func:`~dirac_core.accounting.producers.pilot_record`
        for ``details``); the record, or None when the pilot is unknown or has not ended."""
        with self.database.begin() as conn:
            record = producers.pilot_record(conn, stamp, details or {}, self.clock.now())
            if record is not None:
                bulk_insert(conn, tables.pilots, [record.row()])
        return record

    # -- reading -----------------------------------------------------------------------

    def _period(self, since: datetime | None, until: datetime | None) -> tuple[datetime, datetime]:
        end = until or self.clock.now()
        return since or end - DEFAULT_PERIOD, end

    def records(self, record: RecordType | str, *, since: datetime | None = None,
                until: datetime | None = None, vo: str | None = None,
                filters: Mapping[str, Sequence[Any]] | None = None, limit: int = 1000
                ) -> list[dict[str, Any]]:
        """The records of one type that ended in the period, oldest first, at most ``limit``
        (rows as dicts, statuses as strings). Raises :class:`InvalidReport` for a bad filter."""
        source = source_of(record)
        start, end = self._period(since, until)
        stmt = (select(source.table).where(*conditions(source, since=start, until=end, filters=filters,
                                                       vo=vo))
                .order_by(source.time, source.table.c.id).limit(limit))
        with self.database.begin(read_only=True) as conn:
            return [as_plain(row) for row in conn.execute(stmt).mappings()]

    def aggregate(self, record: RecordType | str, measure: str, *, since: datetime | None = None,
                  until: datetime | None = None, group_by: str | None = None,
                  width: TimeBin | str | None = None, filters: Mapping[str, Sequence[Any]] | None = None,
                  vo: str | None = None) -> Aggregation:
        """See :func:`~dirac_core.accounting.query.aggregate` (default period: the last 7 days)."""
        start, end = self._period(since, until)
        with self.database.begin(read_only=True) as conn:
            return aggregate(conn, record, measure, since=start, until=end, group_by=group_by,
                             width=width, filters=filters, vo=vo)

    def summary(self, record: RecordType | str, *, group_by: str | None = None, since: datetime | None = None,
                until: datetime | None = None, filters: Mapping[str, Sequence[Any]] | None = None,
                vo: str | None = None) -> dict[str, Any]:
        """Every measure of one record type totalled per key (default: ``site``; data: ``pair``)
        over the period, JSON-ready: ``{record, group_by, since, until, measures: [{name, label,
        unit}], rows: [[key, value per measure...]]}``, rows by the first measure, largest first."""
        kind = source_of(record).record
        key = group_by or ("pair" if kind is RecordType.DATA else "site")
        start, end = self._period(since, until)
        names = list(SOURCES[kind].measures)
        with self.database.begin(read_only=True) as conn:
            found = [aggregate(conn, kind, name, since=start, until=end, group_by=key, filters=filters, vo=vo)
                     for name in names]
        keys = sorted({k for a in found for k in a.keys}, key=lambda k: (-found[0].totals.get(k, 0.0), k))
        return {"record": str(kind), "group_by": key, "since": start.isoformat(), "until": end.isoformat(),
                "measures": [{"name": n, "label": a.label, "unit": a.unit} for n, a in zip(names, found,
                                                                                          strict=True)],
                "rows": [[k, *(round(a.totals.get(k, 0.0), 6) for a in found)] for k in keys]}

    def report(self, kind: str, *, since: datetime | None = None, until: datetime | None = None,
               group_by: str | None = None, width: TimeBin | str | None = "auto",
               filters: Mapping[str, Sequence[Any]] | None = None, vo: str | None = None) -> Report:
        """The report ``kind`` (one of :data:`~dirac_core.accounting.reports.KINDS`) over a period
        (default: the 7 days before now), of one VO or all.

        ``group_by`` replaces the kind's key; ``width`` is the time bin, ``"auto"`` to choose it
        from the period (:func:`~dirac_core.accounting.bins.choose_bin`) and None for no bins (a
        pie is never binned). ``filters`` add to the kind's. Raises :class:`InvalidReport`.
        """
        spec = _kind(kind)
        start, end = self._period(since, until)
        chosen: TimeBin | str | None = width
        if spec.chart is Chart.PIE:
            chosen = None
        elif width == "auto":
            chosen = choose_bin(start, end)
        data = self.aggregate(spec.record, spec.measure, since=start, until=end,
                              group_by=group_by or spec.group_by, width=chosen,
                              filters={**spec.filters, **(filters or {})}, vo=vo)
        title = spec.title if group_by in (None, spec.group_by) else f"{data.label} by {group_by}"
        return Report(kind=spec.name, title=title, chart=spec.chart, data=data)

    def plot(self, kind: str, fmt: str = "png", **options: Any) -> bytes:
        """:meth:`report` drawn as ``png`` or ``svg`` (bytes); needs matplotlib (the ``accounting``
        extra). ``options`` are :meth:`report`'s."""
        return render(self.report(kind, **options), fmt)

    def close(self) -> None:
        """Remove the hook implementations from the hook manager."""
        if self._hooks is not None and self._hooks.is_registered(self.hook_impl):
            self._hooks.unregister(self.hook_impl)


def _kind(name: str) -> ReportKind:
    if name not in KINDS:
        raise InvalidReport(f"unknown report kind {name!r}; expected one of {', '.join(KINDS)}", kind=name)
    return KINDS[name]

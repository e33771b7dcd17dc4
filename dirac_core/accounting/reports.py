"""Report kinds and reports: an aggregation with a title and a chart type, as a table or JSON.

A *kind* names a useful default (``jobs-by-site``: jobs per site per time bin, stacked bars);
every part of it may be overridden per report (``group_by="owner"``), so any measure of any
record type by any key is a report. :mod:`dirac_core.accounting.plots` draws them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from types import MappingProxyType
from typing import Any

import attrs

from dirac_core.accounting.bins import TimeBin
from dirac_core.accounting.query import Aggregation
from dirac_core.accounting.records import RecordType

__all__ = ["KINDS", "Chart", "Report", "ReportKind"]


class Chart(StrEnum):
    """How a report is drawn."""

    BARS = "bars"  # stacked bars per time bin
    LINES = "lines"  # one line per key over time
    PIE = "pie"  # the share of each key over the whole period


@attrs.frozen(kw_only=True)
class ReportKind:
    """A named report: what is measured, grouped by what, and drawn how (``filters`` always apply)."""

    name: str
    title: str
    record: RecordType
    measure: str
    group_by: str | None
    chart: Chart
    filters: Mapping[str, Sequence[str]] = attrs.field(factory=dict)


_KINDS = (
    ReportKind(name="jobs-by-site", title="Jobs by site", record=RecordType.JOB, measure="jobs",
               group_by="site", chart=Chart.BARS),
    ReportKind(name="cpu-by-group", title="CPU by group", record=RecordType.JOB, measure="cpu",
               group_by="group", chart=Chart.BARS),
    ReportKind(name="final-statuses", title="Final statuses of jobs", record=RecordType.JOB,
               measure="jobs", group_by="status", chart=Chart.PIE),
    ReportKind(name="transfer-throughput", title="Transfer throughput", record=RecordType.DATA,
               measure="throughput", group_by="pair", chart=Chart.LINES,
               filters=MappingProxyType({"status": ("Succeeded",)})),
    ReportKind(name="pilots-by-site", title="Pilots by site", record=RecordType.PILOT, measure="pilots",
               group_by="site", chart=Chart.BARS),
    ReportKind(name="data-by-operation", title="Data moved by operation", record=RecordType.DATA,
               measure="bytes", group_by="operation", chart=Chart.BARS),
)
#: The report kinds by name.
KINDS: Mapping[str, ReportKind] = MappingProxyType({kind.name: kind for kind in _KINDS})


def _number(value: float) -> float:
    return round(value, 6)


@attrs.frozen(kw_only=True)
class Report:
    """A titled aggregation with its chart type; :meth:`table` and :meth:`to_json` present it."""

    kind: str
    title: str
    chart: Chart
    data: Aggregation

    @property
    def width(self) -> TimeBin | None:
        """The time bin (None for a pie: one value per key)."""
        return self.data.width

    def table(self) -> tuple[list[str], list[list[Any]]]:
        """Column names and rows: a row per time bin (its start, a column per key, the total),
        or without bins a row per key (value and share of the total)."""
        data = self.data
        if data.width is None:
            whole = sum(data.totals.values()) or 1.0
            return ([data.group_by or "key", data.unit, "%"],
                    [[key, _number(data.totals[key]), round(100 * data.totals[key] / whole, 1)]
                     for key in data.keys])
        fmt = "%Y-%m-%d %H:%M" if data.width is TimeBin.HOUR else "%Y-%m-%d"
        rows = [[start.strftime(fmt), *(_number(data.series[k][i]) for k in data.keys),
                 _number(sum(data.series[k][i] for k in data.keys))]
                for i, start in enumerate(data.bins)]
        return [str(data.width), *data.keys, "total"], rows

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict: the kind, its parameters, bins (ISO times), keys, series, totals."""
        data = self.data
        return {"kind": self.kind, "title": self.title, "chart": str(self.chart), "record": str(data.record),
                "measure": data.measure, "label": data.label, "unit": data.unit, "group_by": data.group_by,
                "since": data.since.isoformat(), "until": data.until.isoformat(),
                "bin": None if data.width is None else str(data.width),
                "bins": [b.isoformat() for b in data.bins], "keys": list(data.keys),
                "series": {k: [_number(v) for v in data.series[k]] for k in data.keys},
                "totals": {k: _number(data.totals[k]) for k in data.keys}}

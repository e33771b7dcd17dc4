"""Accounting: records of what jobs, pilots and data operations used, and reports over them.

:class:`Accounting` (``Interware.accounting``) writes :class:`JobRecord`, :class:`PilotRecord`
and :class:`DataOperationRecord` values in bulk and produces them itself, through hook
implementations, when jobs reach a final status, pilots end and the data manager moves files.
Reports aggregate them in SQL by time bin (:class:`TimeBin`) and by any key, with filters; a
:class:`Report` is a table, JSON, or a PNG/SVG plot (matplotlib, the ``accounting`` extra).
The named kinds are :data:`KINDS` (``jobs-by-site``, ``cpu-by-group``, ``final-statuses``,
``transfer-throughput``, ...). See ``docs/accounting.md``.
"""

from __future__ import annotations

from dirac_core.accounting.bins import TimeBin, choose_bin
from dirac_core.accounting.engine import Accounting
from dirac_core.accounting.query import SOURCES, Aggregation, InvalidReport
from dirac_core.accounting.records import DataOperationRecord, JobRecord, PilotRecord, RecordType
from dirac_core.accounting.reports import KINDS, Chart, Report, ReportKind

__all__ = ["KINDS", "SOURCES", "Accounting", "Aggregation", "Chart", "DataOperationRecord", "InvalidReport",
           "JobRecord", "PilotRecord", "RecordType", "Report", "ReportKind", "TimeBin", "choose_bin"]

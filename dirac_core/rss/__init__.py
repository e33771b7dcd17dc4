"""The resource status system: is a site, a CE, a queue, an SE usable now?

Every element of the configuration has a status (per status type: an SE's ReadAccess,
WriteAccess, CheckAccess, RemoveAccess; ``all`` for the others) that policies decide from
observations (downtimes, pilot and job efficiencies, free space, test transfers, the statuses of
a site's resources), or that an operator sets for a while. The site director, the matcher and the
storage elements obey it. :class:`ResourceStatusSystem` is the engine (``Interware.status``),
:func:`rss_tasks` its periodic tasks; the policy contract is :mod:`dirac_core.plugins.policies`.
See ``docs/status.md``.
"""

from __future__ import annotations

from dirac_core.model.resource_status import (
    ALL,
    Downtime,
    Element,
    ElementKey,
    ElementType,
    ResourceStatus,
    Severity,
    StatusType,
    TransferTest,
    next_status,
)
from dirac_core.rss.downtimes import CalendarError, DowntimeCalendar, parse_calendar
from dirac_core.rss.pdp import combine
from dirac_core.rss.periodic import EvaluationTask, ExpiryTask, TestTransferTask, rss_tasks
from dirac_core.rss.records import (
    POLICY_OWNER,
    ElementEvaluation,
    EvaluationReport,
    HistoryEntry,
    PolicyOutcome,
    StatusRecord,
)
from dirac_core.rss.system import ResourceStatusSystem

__all__ = [
    "ALL",
    "POLICY_OWNER",
    "CalendarError",
    "Downtime",
    "DowntimeCalendar",
    "Element",
    "ElementEvaluation",
    "ElementKey",
    "ElementType",
    "EvaluationReport",
    "EvaluationTask",
    "ExpiryTask",
    "HistoryEntry",
    "PolicyOutcome",
    "ResourceStatus",
    "ResourceStatusSystem",
    "Severity",
    "StatusRecord",
    "StatusType",
    "TestTransferTask",
    "TransferTest",
    "combine",
    "next_status",
    "parse_calendar",
    "rss_tasks",
]

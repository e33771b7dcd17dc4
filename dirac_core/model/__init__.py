"""Value types shared by every engine: statuses and their transition tables, time, identifiers.

Nothing here does I/O.
"""

from __future__ import annotations

from dirac_core.model.clock import Clock, FakeClock, SystemClock, ensure_utc
from dirac_core.model.identity import Identity
from dirac_core.model.ids import new_uuid, uuid_time
from dirac_core.model.job import FINAL_JOB_STATUSES, JOB_TRANSITIONS, JobStatus
from dirac_core.model.pilot import PILOT_TRANSITIONS, PilotStatus
from dirac_core.model.status import TransitionTable, check_transition, make_table, reachable

__all__ = [
    "FINAL_JOB_STATUSES",
    "JOB_TRANSITIONS",
    "PILOT_TRANSITIONS",
    "Clock",
    "FakeClock",
    "Identity",
    "JobStatus",
    "PilotStatus",
    "SystemClock",
    "TransitionTable",
    "check_transition",
    "ensure_utc",
    "make_table",
    "new_uuid",
    "reachable",
    "uuid_time",
]

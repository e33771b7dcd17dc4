"""Workload management: submission, checks, task queues, fair share, matching, job control.

The engine is :class:`WorkloadManager`, reached as ``Interware.wms``.
"""

from __future__ import annotations

from dirac_core.wms.control import JobCommand
from dirac_core.wms.engine import WorkloadManager
from dirac_core.wms.matcher import MatchedJob
from dirac_core.wms.requirements import JobRequirements
from dirac_core.wms.resource import ResourceDescription
from dirac_core.wms.status_updates import JobState, StatusUpdate
from dirac_core.wms.submission import SubmittedJob

__all__ = [
    "JobCommand",
    "JobRequirements",
    "JobState",
    "MatchedJob",
    "ResourceDescription",
    "StatusUpdate",
    "SubmittedJob",
    "WorkloadManager",
]

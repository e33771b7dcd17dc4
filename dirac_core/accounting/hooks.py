"""The accounting engine's hook implementations: how records get produced without the engines
that do the work knowing about accounting.

- ``dirac_job_status_changed``: jobs reaching Done, Failed or Killed are accounted (their
  records built from the workload tables); rescheduled jobs (back to Rescheduled or Received)
  are opened again for their next run.
- ``dirac_pilot_event``: a pilot that ended is accounted.
- ``dirac_data_operation``: an upload, replication or download of the data manager, or its
  failure, is one data-operation record.

A failure to account is logged, never raised: the work it describes is done already.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dirac_core.accounting.producers import ACCOUNTED_STATUSES
from dirac_core.accounting.records import DataOperationRecord
from dirac_core.model.job import JobStatus
from dirac_core.plugins.hookspecs import hookimpl

if TYPE_CHECKING:
    from dirac_core.accounting.engine import Accounting

__all__ = ["AccountingHooks", "vo_of_lfn"]

log = logging.getLogger(__name__)
#: a job going back to one of these will run again (rescheduling ends in Received)
_RUN_AGAIN = frozenset({JobStatus.RESCHEDULED, JobStatus.RECEIVED})


def vo_of_lfn(lfn: str) -> str:
    """The VO an LFN belongs to: its first path component (``/demo/user/...`` is ``demo``)."""
    return lfn.lstrip("/").split("/", 1)[0]


class AccountingHooks:
    """Hook implementations feeding ``accounting`` (registered by it in the interware's hooks)."""

    def __init__(self, accounting: Accounting) -> None:
        self.accounting = accounting

    @hookimpl
    def dirac_job_status_changed(self, job_ids: Sequence[int], status: str, timestamp: datetime) -> None:
        """Account jobs that ended; open rescheduled ones again."""
        try:
            if status in ACCOUNTED_STATUSES:
                self.accounting.account_jobs(job_ids, when=timestamp)
            elif status in _RUN_AGAIN:
                self.accounting.reopen_jobs(job_ids)
        except Exception:  # accounting must never undo what it describes
            log.exception("accounting of %d job(s) (%s) failed", len(job_ids), status)

    @hookimpl
    def dirac_pilot_event(self, pilot_stamp: str, event: str, details: Mapping[str, Any]) -> None:
        """Account a pilot that ended."""
        if event != "ended":
            return
        try:
            self.accounting.account_pilot(pilot_stamp, details)
        except Exception:
            log.exception("accounting of pilot %s failed", pilot_stamp)

    @hookimpl
    def dirac_data_operation(self, operation: str, lfns: Sequence[str], source: str,  # noqa: PLR0917
                             target: str, size: int, seconds: float, error: str | None) -> None:
        """One record per operation and VO (the VO of each LFN's namespace)."""
        by_vo: dict[str, int] = {}
        for lfn in lfns:
            by_vo[vo_of_lfn(lfn)] = by_vo.get(vo_of_lfn(lfn), 0) + 1
        now = self.accounting.clock.now()
        total = max(1, len(lfns))
        # the side that is no SE is the local disk of the process that moved the files
        source = source or ("local" if operation == "Upload" else "")
        target = target or ("local" if operation == "Download" else "")
        records = [DataOperationRecord(operation=operation, vo=vo, source_se=source, target_se=target,
                                       files=count,
                                       bytes=size * count // total, seconds=seconds * count / total,
                                       success=error is None, end=now)
                   for vo, count in by_vo.items()]
        try:
            self.accounting.add(records)
        except Exception:
            log.exception("accounting of a %s of %d file(s) failed", operation, len(lfns))

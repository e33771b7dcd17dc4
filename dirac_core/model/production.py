"""Production statuses: a chain of transformations started, stopped and cleaned as one."""

from __future__ import annotations

from enum import StrEnum

from dirac_core.model.status import make_table

__all__ = ["PRODUCTION_TRANSITIONS", "ProductionStatus"]


class ProductionStatus(StrEnum):
    """New: defined, not started; Active: its transformations run; Flush: they emit partial
    groups; Stopped: they create no tasks; Completed: done; Cleaned: its outputs removed."""

    NEW = "New"
    ACTIVE = "Active"
    FLUSH = "Flush"
    STOPPED = "Stopped"
    COMPLETED = "Completed"
    CLEANED = "Cleaned"


_P = ProductionStatus
#: DIRAC's production state machine; where DIRAC silently keeps the old status for any other
#: target, we refuse it (InvalidTransition), so that a typo is not mistaken for a success.
PRODUCTION_TRANSITIONS = make_table(ProductionStatus, {
    _P.NEW: (_P.ACTIVE, _P.CLEANED),
    _P.ACTIVE: (_P.FLUSH, _P.STOPPED, _P.COMPLETED, _P.CLEANED),
    _P.FLUSH: (_P.ACTIVE, _P.COMPLETED, _P.CLEANED),
    _P.STOPPED: (_P.ACTIVE, _P.FLUSH, _P.COMPLETED, _P.CLEANED),
    _P.COMPLETED: (_P.CLEANED,),
    _P.CLEANED: (),
})

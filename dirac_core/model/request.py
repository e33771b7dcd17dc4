"""Request statuses: a request, its operations and their files (DIRAC's request management names).

A request is an ordered to-do list: operations run one after the other, each
over its files. Most statuses are not set by hand but rolled up from below
(:mod:`dirac_core.rms.request`); the tables here say which explicit changes
an executor or an operator may make.
"""

from __future__ import annotations

from enum import StrEnum

from dirac_core.model.status import make_table

__all__ = ["FINAL_OPERATION", "FINAL_REQUEST", "OPERATION_TRANSITIONS", "REQUEST_FILE_TRANSITIONS",
           "REQUEST_TRANSITIONS", "OperationStatus", "RequestFileStatus", "RequestStatus"]


class RequestStatus(StrEnum):
    """Waiting: something to do (from ``not_before`` on); Scheduled: its current operation waits
    for an outside transfer; Assigned: an executor holds it; Done, Failed, Canceled: final."""

    WAITING = "Waiting"
    SCHEDULED = "Scheduled"
    ASSIGNED = "Assigned"
    DONE = "Done"
    FAILED = "Failed"
    CANCELED = "Canceled"


class OperationStatus(StrEnum):
    """Queued: behind an earlier operation; Waiting: the current one; the rest as for requests."""

    QUEUED = "Queued"
    WAITING = "Waiting"
    SCHEDULED = "Scheduled"
    ASSIGNED = "Assigned"
    DONE = "Done"
    FAILED = "Failed"
    CANCELED = "Canceled"


class RequestFileStatus(StrEnum):
    """One file of an operation: Waiting (to do), Scheduled (handed to a transfer service),
    Done or Failed."""

    WAITING = "Waiting"
    SCHEDULED = "Scheduled"
    DONE = "Done"
    FAILED = "Failed"


FINAL_REQUEST = frozenset({RequestStatus.DONE, RequestStatus.FAILED, RequestStatus.CANCELED})
FINAL_OPERATION = frozenset({OperationStatus.DONE, OperationStatus.FAILED, OperationStatus.CANCELED})

_R = RequestStatus
REQUEST_TRANSITIONS = make_table(RequestStatus, {
    _R.WAITING: (_R.ASSIGNED, _R.SCHEDULED, _R.DONE, _R.FAILED, _R.CANCELED),
    _R.SCHEDULED: (_R.WAITING, _R.ASSIGNED, _R.DONE, _R.FAILED, _R.CANCELED),
    # an executor puts it back rolled up; a stuck one is put back Waiting
    _R.ASSIGNED: (_R.WAITING, _R.SCHEDULED, _R.DONE, _R.FAILED, _R.CANCELED),
    _R.DONE: (),
    _R.FAILED: (_R.WAITING,),  # an operator resets a failed request
    _R.CANCELED: (),
})

_O = OperationStatus
OPERATION_TRANSITIONS = make_table(OperationStatus, {
    _O.QUEUED: (_O.WAITING, _O.DONE, _O.FAILED, _O.CANCELED),
    _O.WAITING: (_O.QUEUED, _O.SCHEDULED, _O.ASSIGNED, _O.DONE, _O.FAILED, _O.CANCELED),
    _O.SCHEDULED: (_O.WAITING, _O.DONE, _O.FAILED, _O.CANCELED),
    _O.ASSIGNED: (_O.WAITING, _O.SCHEDULED, _O.DONE, _O.FAILED, _O.CANCELED),
    _O.DONE: (),
    _O.FAILED: (_O.WAITING,),
    _O.CANCELED: (),
})

_F = RequestFileStatus
REQUEST_FILE_TRANSITIONS = make_table(RequestFileStatus, {
    _F.WAITING: (_F.SCHEDULED, _F.DONE, _F.FAILED),
    _F.SCHEDULED: (_F.WAITING, _F.DONE, _F.FAILED),
    _F.DONE: (),
    _F.FAILED: (_F.WAITING,),
})

"""Request management: the to-do list of operations, with retries, and the failover system.

:class:`Request` holds ordered :class:`Operation` values, each over :class:`RequestFile`
values; :func:`roll_up` derives statuses the way DIRAC does; :class:`RequestStore` keeps them
in the database; :class:`RequestFailover` turns work that could not be done now into requests.
The operation handlers are in :mod:`dirac_core.rms.handlers` (drivers of
``dirac.operation_handlers``); :class:`~dirac_core.rms.executor.RequestExecutor` runs them
(``Interware.request_executor``), with the periodic tasks of :mod:`dirac_core.rms.tasks`.
"""

from __future__ import annotations

from dirac_core.rms.failover import RequestFailover, RequestSubmitter, failover_request
from dirac_core.rms.request import MAX_FILES, Operation, Request, RequestFile, operation_status, roll_up
from dirac_core.rms.store import RequestStore, back_off
from dirac_core.rms.validation import BUILTIN_TYPES, OperationType, validate

__all__ = ["BUILTIN_TYPES", "MAX_FILES", "Operation", "OperationType", "Request", "RequestFailover",
           "RequestFile", "RequestStore", "RequestSubmitter", "back_off", "failover_request",
           "operation_status", "roll_up", "validate"]

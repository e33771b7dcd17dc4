"""Requests, operations and files as values, and the rules that roll their statuses up.

A :class:`Request` is an ordered list of :class:`Operation`; each operation
works on its :class:`RequestFile`. Handlers set file statuses (and the
status of operations without files); :func:`roll_up` then derives the rest:

- an operation from its files (first rule that applies): every file Failed
  -> Failed; any Scheduled -> Scheduled; any Waiting -> Queued; any Failed
  -> Failed; otherwise Done (error cleared). An operation without files
  keeps its status.
- the request from its operations, in order: the first Queued, Waiting or
  Scheduled operation is the current one (a Queued one becomes Waiting, and
  later Waiting ones go back to Queued); a Failed operation met before any
  current one fails the request; a Canceled one cancels it; a Scheduled
  current operation makes the request Scheduled, any other Waiting; with
  every operation Done the request is Done; an empty request is Waiting.

These are DIRAC's rules (a later failure is ignored until the request
reaches it), so requests written by either system mean the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import attrs
from attrs import validators as v

from dirac_core.model.lfn import normalize_lfn
from dirac_core.model.request import (
    FINAL_REQUEST,
    OperationStatus,
    RequestFileStatus,
    RequestStatus,
)

__all__ = ["MAX_FILES", "Operation", "Request", "RequestFile", "operation_status", "roll_up"]

#: files per operation, as in DIRAC
MAX_FILES = 10_000

_F, _O, _R = RequestFileStatus, OperationStatus, RequestStatus


def _ses(value: str | Sequence[str]) -> tuple[str, ...]:
    """SE names from a list or a comma-separated string, stripped, in order, without repeats."""
    items = value.split(",") if isinstance(value, str) else value
    return tuple(dict.fromkeys(s.strip() for s in items if s.strip()))


def _checksum_type(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    upper = value.upper()
    return "ADLER32" if upper in ("AD", "ADLER", "ADLER32") else upper


@attrs.define(kw_only=True)
class RequestFile:
    """One file an operation works on; ``pfn`` is a URL or, for an upload, a local path."""

    lfn: str = attrs.field(converter=normalize_lfn)
    pfn: str = ""
    guid: str | None = None
    size: int | None = attrs.field(default=None, validator=v.optional(v.ge(0)))
    checksum: str | None = None
    checksum_type: str | None = attrs.field(default=None, converter=_checksum_type)
    status: RequestFileStatus = attrs.field(default=_F.WAITING, converter=RequestFileStatus)
    attempt: int = attrs.field(default=0, validator=v.ge(0))
    error: str = ""
    file_id: int | None = None

    def set_status(self, status: RequestFileStatus, error: str = "") -> None:
        """Set the file's status; Done clears the error."""
        self.status = RequestFileStatus(status)
        self.error = "" if self.status is _F.DONE else error[:2048]


@attrs.define(kw_only=True)
class Operation:
    """One step of a request: a type (the handler that runs it), its SEs, arguments and files."""

    type: str = attrs.field(validator=v.and_(v.instance_of(str), v.min_len(1), v.max_len(64)))
    status: OperationStatus = attrs.field(default=_O.QUEUED, converter=OperationStatus)
    arguments: dict[str, Any] = attrs.field(factory=dict)
    source_se: tuple[str, ...] = attrs.field(default=(), converter=_ses)
    target_se: tuple[str, ...] = attrs.field(default=(), converter=_ses)
    catalogs: tuple[str, ...] = attrs.field(default=(), converter=_ses)
    error: str = ""
    files: list[RequestFile] = attrs.field(factory=list)
    operation_id: int | None = None
    created: datetime | None = None
    updated: datetime | None = None

    @property
    def waiting_files(self) -> list[RequestFile]:
        """The files still to do."""
        return [f for f in self.files if f.status is _F.WAITING]


@attrs.define(kw_only=True)
class Request:
    """A to-do list owned by a user (and maybe on behalf of a job), run from ``not_before`` on."""

    name: str = attrs.field(validator=v.and_(v.instance_of(str), v.min_len(1), v.max_len(255)))
    owner: str = ""
    owner_group: str = ""
    vo: str = ""
    job_id: int | None = None
    source: str = ""  # which component made it (job wrapper, data manager, an operator, ...)
    status: RequestStatus = attrs.field(default=_R.WAITING, converter=RequestStatus)
    error: str = ""
    not_before: datetime | None = None
    operations: list[Operation] = attrs.field(factory=list)
    request_id: int | None = None
    created: datetime | None = None
    updated: datetime | None = None

    @property
    def current(self) -> Operation | None:
        """The operation to run now (the Waiting one after a roll-up), or None."""
        return next((op for op in self.operations if op.status is _O.WAITING), None)

    @property
    def is_final(self) -> bool:
        """Done, Failed or Canceled."""
        return self.status in FINAL_REQUEST


def operation_status(op: Operation) -> OperationStatus:
    """The status ``op``'s files give it (its own status when it has no files)."""
    statuses = {f.status for f in op.files}
    if not statuses or op.status is _O.CANCELED:
        return op.status
    if statuses == {_F.FAILED}:
        return _O.FAILED
    if _F.SCHEDULED in statuses:
        return _O.SCHEDULED
    if _F.WAITING in statuses:
        # the current operation stays Waiting; roll_up demotes any other to Queued
        return _O.WAITING if op.status is _O.WAITING else _O.QUEUED
    if _F.FAILED in statuses:
        return _O.FAILED
    return _O.DONE


def roll_up(request: Request) -> RequestStatus:
    """Derive every operation's status, then the request's; set them and return the request's.

    A Canceled request stays Canceled.
    """
    for op in request.operations:
        status = operation_status(op)
        if status is _O.DONE and op.files:
            op.error = ""
        op.status = status
    if request.status is _R.CANCELED:
        return request.status
    outcome = _outcome(request)
    if outcome is _R.DONE:
        request.error = ""
    request.status = outcome
    return outcome


def _outcome(request: Request) -> RequestStatus:
    """The request's status from its (rolled-up) operations; promotes and demotes the current one."""
    current: Operation | None = None
    for op in request.operations:
        if current is None and op.status in (_O.FAILED, _O.CANCELED):
            request.error = request.error or op.error or f"operation {op.type} {op.status.value}"
            return _R.FAILED if op.status is _O.FAILED else _R.CANCELED
        if op.status in (_O.QUEUED, _O.WAITING, _O.SCHEDULED, _O.ASSIGNED):
            if current is None:
                current = op
                if op.status in (_O.QUEUED, _O.ASSIGNED):
                    op.status = _O.WAITING
            elif op.status is _O.WAITING:
                op.status = _O.QUEUED
    if current is None:
        return _R.DONE if request.operations else _R.WAITING
    return _R.SCHEDULED if current.status is _O.SCHEDULED else _R.WAITING

"""How a handler records an error on a file: failed for good, or left Waiting to be tried again.

An error that no retry can change fails the file with its reason: the file or replica does not
exist (:class:`~dirac_core.errors.NotFound`), the owner may not do it
(:class:`~dirac_core.errors.PermissionDenied`), an invalid LFN, a copy whose checksum differs
from the catalog's, a conflict with what is registered. Anything else (an SE or a catalog that
does not answer, a transfer that broke) leaves the file Waiting with the error kept; the
executor's attempt count fails it after ``max_attempts``.

A bulk call can also answer one item with an error: a catalog's per-item answer is a verdict on
that item (permanent), unless it carries the cause of a whole catalog failing (a secondary
catalog that did not answer: retried), or it is a storage error.
"""

from __future__ import annotations

from collections.abc import Sequence

from dirac_core.errors import (
    AlreadyExists,
    ChecksumMismatch,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    StorageError,
)
from dirac_core.model.lfn import InvalidLFN
from dirac_core.model.request import RequestFileStatus
from dirac_core.rms.request import RequestFile

__all__ = ["PERMANENT", "fail", "permanent_item", "settle", "settle_item"]

#: errors that trying again cannot change
PERMANENT: tuple[type[Exception], ...] = (NotFound, PermissionDenied, InvalidLFN, ChecksumMismatch,
                                          AlreadyExists, InvalidRequest)


def fail(files: Sequence[RequestFile], reason: str) -> None:
    """Fail ``files`` for good with ``reason``."""
    for file in files:
        file.set_status(RequestFileStatus.FAILED, reason)


def settle(file: RequestFile, error: Exception) -> None:
    """A call raised ``error`` for ``file``: fail it when permanent, else keep it Waiting."""
    if isinstance(error, PERMANENT):
        file.set_status(RequestFileStatus.FAILED, str(error))
    else:
        file.error = str(error)[:2048]


def permanent_item(error: Exception) -> bool:
    """Whether a per-item answer of a bulk call is a verdict no retry changes."""
    if isinstance(error, StorageError) and not isinstance(error, ChecksumMismatch):
        return False
    return error.__cause__ is None or isinstance(error, PERMANENT)


def settle_item(file: RequestFile, error: Exception) -> None:
    """A bulk call answered ``file`` with ``error``: fail it when that is a verdict, else retry."""
    if permanent_item(error):
        file.set_status(RequestFileStatus.FAILED, str(error))
    else:
        file.error = str(error)[:2048]

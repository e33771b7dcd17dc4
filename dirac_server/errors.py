"""Library errors as HTTP answers: ``{"detail": ...}`` bodies, DiracX's status codes."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from dirac_core.auth.device import DeviceFlowError
from dirac_core.auth.scopes import InvalidScope
from dirac_core.errors import (
    AlreadyExists,
    DatabaseUnavailable,
    DiracError,
    InvalidTransition,
    JDLError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
)
from dirac_core.wms.query import InvalidQuery

__all__ = ["BadRequest", "install_error_handlers"]

_STATUS: tuple[tuple[type[DiracError], int], ...] = (
    (NotAuthenticated, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (AlreadyExists, 409),
    (InvalidTransition, 409),
    (JDLError, 400),
    (InvalidQuery, 400),
    (InvalidScope, 400),
    (DatabaseUnavailable, 503),
)


class BadRequest(DiracError):
    """A request the server refuses as malformed (400)."""


def _dirac_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, DeviceFlowError):
        return JSONResponse({"error": exc.error, "detail": str(exc)}, status_code=400)
    status = next((code for kind, code in _STATUS if isinstance(exc, kind)), 400)
    if isinstance(exc, DatabaseUnavailable):
        return JSONResponse({"detail": "the database is unavailable"}, status_code=503)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Map every :class:`DiracError` to its status code."""
    app.add_exception_handler(DiracError, _dirac_error)

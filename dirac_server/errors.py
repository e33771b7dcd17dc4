"""Library errors as HTTP answers: ``{"detail": ...}`` bodies, DiracX's status codes."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc

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

__all__ = ["BadRequest", "install_error_handlers", "status_of"]

log = logging.getLogger(__name__)

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


def status_of(exc: DiracError) -> int:
    """The HTTP status answering ``exc`` (400 for an error the table does not name)."""
    return next((code for kind, code in _STATUS if isinstance(exc, kind)), 400)


def _dirac_error(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, DeviceFlowError):
        return JSONResponse({"error": exc.error, "detail": str(exc)}, status_code=400)
    status = status_of(exc) if isinstance(exc, DiracError) else 400
    if isinstance(exc, DatabaseUnavailable):
        return JSONResponse({"detail": "the database is unavailable"}, status_code=503)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)


def _database_error(request: Request, exc: Exception) -> JSONResponse:
    # a deadlock, a lock timeout, an exhausted pool: the transaction was rolled back, nothing
    # was written, the request may be sent again (answering 500 would also make uvicorn drop
    # the client's keep-alive connection)
    log.warning("database error on %s %s: %s", request.method, request.url.path,
                type(getattr(exc, "orig", None) or exc).__name__)
    return JSONResponse({"detail": "the database is busy; try again"}, status_code=503,
                        headers={"Retry-After": "1"})


#: parts of the names of fields whose value a 422 answer does not repeat
_SECRET_FIELDS = ("password", "secret", "token", "code", "verifier", "assertion")


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    # FastAPI's 422, without the ``input`` of a field holding a credential: a password or a token
    # sent too long is not echoed back (to logging proxies, to a browser's history of answers)
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    for error in errors:
        name = str(error.get("loc", ("",))[-1]).lower()
        if any(part in name for part in _SECRET_FIELDS):
            error.pop("input", None)
    return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    """Map every :class:`DiracError` to its status code; transient database errors to 503; answer
    malformed requests with FastAPI's 422, credentials left out."""
    app.add_exception_handler(DiracError, _dirac_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(sa_exc.OperationalError, _database_error)
    app.add_exception_handler(sa_exc.TimeoutError, _database_error)

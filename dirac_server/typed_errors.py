"""Routes whose errors carry their type and fields, for clients that rebuild the exception.

DiracX's error body is ``{"detail": text}``. A route of :class:`TypedErrorRoute` adds
``"error"``, the typed form of :func:`dirac_core.dms.catalog_wire.error_json` (``type``,
``message``, ``fields``), so that a remote client raises the exception the engine raised, with
its structured fields (an ``InvalidTransformation`` naming its ``parameter``, say). The status
code is the app's (:func:`dirac_server.errors.status_of`).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from dirac_core.dms.catalog_wire import error_json
from dirac_core.errors import DatabaseUnavailable, DiracError, NotAuthenticated
from dirac_server.errors import status_of

__all__ = ["TypedErrorRoute"]


class TypedErrorRoute(APIRoute):
    """A route answering a :class:`DiracError` with its type and fields besides ``detail``.

    A missing token (401, with ``WWW-Authenticate``) and a lost database (503, details hidden)
    are left to the app's handlers.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def typed(request: Request) -> Response:
            try:
                return await handler(request)
            except (NotAuthenticated, DatabaseUnavailable):
                raise
            except DiracError as exc:
                return JSONResponse({"detail": str(exc), "error": error_json(exc)},
                                    status_code=status_of(exc))

        return typed

"""Request dependencies: the interware behind the app, and the caller's verified identity."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from dirac_core.errors import NotAuthenticated, PermissionDenied
from dirac_core.interware import Interware
from dirac_core.model.identity import Identity
from dirac_server.errors import BadRequest
from dirac_server.settings import ServerSettings

__all__ = ["Caller", "Iw", "Settings", "bearer_token", "caller", "require"]


def interware(request: Request) -> Interware:
    """The interware the app serves."""
    iw: Interware = request.app.state.interware
    return iw


def settings(request: Request) -> ServerSettings:
    """The server's settings."""
    found: ServerSettings = request.app.state.settings
    return found


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer`` header; 401 when absent, 400 when malformed."""
    if not authorization:
        raise NotAuthenticated("not authenticated")
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise BadRequest("malformed Authorization header (expected 'Bearer <token>')")
    return token.strip()


def caller(request: Request,
           authorization: Annotated[str | None, Header()] = None) -> Identity:
    """The identity of the access token the request carries."""
    iw = interware(request)
    return iw.auth.tokens.identity(bearer_token(authorization))


Iw = Annotated[Interware, Depends(interware)]
Settings = Annotated[ServerSettings, Depends(settings)]
Caller = Annotated[Identity, Depends(caller)]


def require(identity: Identity, *properties: str) -> None:
    """Raise ``PermissionDenied`` unless ``identity`` holds one of ``properties``."""
    if not any(identity.has(p) for p in properties):
        raise PermissionDenied(f"needs one of: {', '.join(properties)}", user=identity.user)

"""Logins through a redirect identity provider (OIDC): the callback route and the relays.

``/api/auth`` (:mod:`dirac_server.routes.auth`) calls these when the
configured provider is a redirect one: ``GET /authorize`` sends the browser to
the provider (:func:`to_provider`), the provider sends it back to
``GET /authorize/complete`` (here), which redirects to the client's
``redirect_uri`` with our code; ``POST /device`` starts the provider's device
flow (:func:`start_relay`) and the token endpoint's device grant asks the
provider (:func:`redeem_device`). Refusals are clear: 403 when the registry
gives the person nothing (unknown subject, no group), 401 for an ID token
that fails its checks, 503 when the provider cannot be reached; no token or
code is issued in any of these cases.
"""

from __future__ import annotations

import html
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

from dirac_core.auth.device import DeviceFlowError
from dirac_core.auth.provider_logins import ProviderLogins
from dirac_core.errors import DiracError, NotAuthenticated, PermissionDenied
from dirac_core.interware import Interware
from dirac_core.plugins.identity import IdentityProviderUnavailable
from dirac_server.deps import Iw

router = APIRouter(tags=["auth"])  # included by dirac_server.routes.auth, under /api/auth

#: our address the provider sends the browser back to (register it at the provider)
CALLBACK_PATH = "/api/auth/authorize/complete"


def callback_url(iw: Interware) -> str:
    """The full callback address: ``[auth] issuer`` + :data:`CALLBACK_PATH`."""
    return f"{iw.config.auth.issuer.rstrip('/')}{CALLBACK_PATH}"


def _logins(iw: Interware) -> ProviderLogins:
    if iw.auth.logins is None:
        raise DeviceFlowError("invalid_request", "this server's identity provider has no login redirect")
    return iw.auth.logins


def _page(title: str, message: str, status: int) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
                        f"<body><h1>{title}</h1><p>{html.escape(message)}</p></body></html>",
                        status_code=status)


def _status(exc: DiracError) -> tuple[int, str]:
    """HTTP status and OAuth error of a failed provider login."""
    if isinstance(exc, IdentityProviderUnavailable):
        return 503, "temporarily_unavailable"
    if isinstance(exc, PermissionDenied):
        return 403, "access_denied"
    if isinstance(exc, NotAuthenticated):
        return 401, "invalid_grant"
    if isinstance(exc, DeviceFlowError):
        return 400, exc.error
    return 400, "invalid_request"


def start_relay(iw: Interware, client_id: str, scope: str) -> JSONResponse:
    """``POST /api/auth/device`` relayed: the provider's user code and address, our device code."""
    try:
        return JSONResponse(_logins(iw).start_device(client_id, scope, iw.config.registry))
    except IdentityProviderUnavailable as exc:
        return JSONResponse({"error": "temporarily_unavailable", "detail": str(exc)}, status_code=503)


def redeem_device(iw: Interware, device_code: str, client_id: str) -> JSONResponse:
    """The device grant of the token endpoint (relayed or built-in); OAuth errors as JSON."""
    try:
        identity, scope = iw.auth.redeem_device(device_code, client_id)
    except (IdentityProviderUnavailable, PermissionDenied, NotAuthenticated) as exc:
        status, error = _status(exc)
        return JSONResponse({"error": error, "detail": str(exc)}, status_code=status)
    return JSONResponse(iw.auth.tokens.issue(identity, scope).response())


def to_provider(iw: Interware, *, client_id: str, redirect_uri: str, code_challenge: str,
                code_challenge_method: str, scope: str, state: str) -> RedirectResponse | HTMLResponse:
    """``GET /api/auth/authorize`` with a redirect provider: keep the request, go to the provider."""
    try:
        url = _logins(iw).begin_browser(client_id=client_id, redirect_uri=redirect_uri,
                                        code_challenge=code_challenge,
                                        code_challenge_method=code_challenge_method, client_state=state,
                                        scope=scope, callback=callback_url(iw), registry=iw.config.registry)
    except IdentityProviderUnavailable as exc:
        return _page("Login unavailable", str(exc), 503)
    return RedirectResponse(url, status_code=303)


@router.get("/authorize/complete", response_class=HTMLResponse, response_model=None)
def authorize_complete(iw: Iw, state: Annotated[str, Query(max_length=1024)] = "",
                       code: Annotated[str | None, Query(max_length=4096)] = None,
                       error: Annotated[str | None, Query(max_length=256)] = None
                       ) -> RedirectResponse | HTMLResponse:
    """The provider's callback: back to the client's ``redirect_uri`` with our one-time code
    (or with the provider's error); a page saying why when the login is refused here."""
    try:
        back = _logins(iw).finish_browser(state=state, code=code, error=error, callback=callback_url(iw),
                                          registry=iw.config.registry)
    except DiracError as exc:
        status, _ = _status(exc)
        return _page("Login failed", str(exc), status)
    joiner = "&" if "?" in back.redirect_uri else "?"
    return RedirectResponse(f"{back.redirect_uri}{joiner}{urlencode(back.params)}", status_code=303)


"""``/api/auth``: the device flow, the token endpoint, userinfo and revocation (DiracX's routes).

The device flow's verification page is served here: the user proves who
they are to the interware's identity provider (the built-in one asks for a
user name and password) and the flow is approved for that user.
"""

from __future__ import annotations

import html
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse, JSONResponse

from dirac_core.auth.device import DeviceFlowError
from dirac_core.errors import DiracError, NotAuthenticated
from dirac_server.deps import Caller, Iw

router = APIRouter(prefix="/api/auth", tags=["auth"])

_DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def _check_client(iw: Iw, client_id: str) -> None:
    if client_id not in iw.config.auth.client_ids:
        raise DeviceFlowError("invalid_client", f"unknown client_id {client_id!r}")


@router.post("/device")
def start_device_flow(iw: Iw, client_id: Annotated[str, Query()],
                      scope: Annotated[str, Query()]) -> dict[str, Any]:
    """Start a login; the user opens ``verification_uri_complete``."""
    _check_client(iw, client_id)
    started = iw.auth.device.start(client_id, scope, iw.config.registry)
    uri = f"{iw.config.auth.issuer.rstrip('/')}/api/auth/device"
    return {"user_code": started.user_code, "device_code": started.device_code,
            "verification_uri": uri, "verification_uri_complete": f"{uri}?user_code={started.user_code}",
            "expires_in": started.expires_in}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title>"
                        f"</head><body><h1>{title}</h1>{body}</body></html>", status_code=status)


@router.get("/device", response_class=HTMLResponse)
def device_page(iw: Iw, user_code: Annotated[str, Query(max_length=16)] = "") -> HTMLResponse:
    """The verification page: the identity provider's login form for this code."""
    fields = "".join(
        f"<p><label>{html.escape(label)} <input name='{html.escape(name)}' "
        f"type='{'password' if 'password' in name else 'text'}'></label></p>"
        for name, label in iw.auth.provider.fields.items())
    code = html.escape(user_code)
    return _page("Log in to dirac-core",
                 f"<form method='post' action='device/approve'>"
                 f"<p><label>Code <input name='user_code' value='{code}'></label></p>{fields}"
                 f"<p><button type='submit'>Log in</button></p></form>")


@router.post("/device/approve", response_class=HTMLResponse)
def approve_device_flow(iw: Iw, user_code: Annotated[str, Form(max_length=16)],
                        username: Annotated[str, Form(max_length=64)] = "",
                        password: Annotated[str, Form(max_length=1024)] = "") -> HTMLResponse:
    """Check the credentials with the identity provider and approve the login."""
    try:
        user = iw.auth.authenticate({"username": username, "password": password})
    except NotAuthenticated as exc:
        return _page("Login failed", f"<p>{html.escape(str(exc))}</p>", status=401)
    try:
        identity = iw.auth.device.approve(user_code, user, iw.config.registry)
    except DiracError as exc:
        status = 404 if "no pending login" in str(exc) else 403
        return _page("Login failed", f"<p>{html.escape(str(exc))}</p>", status=status)
    return _page("Login approved",
                 f"<p>Logged in as {html.escape(identity.user)} in group "
                 f"{html.escape(identity.group)}. You may close this window.</p>")


@router.post("/token")
def token(iw: Iw, grant_type: Annotated[str, Form()],
          client_id: Annotated[str, Form()] = "",
          device_code: Annotated[str, Form(max_length=256)] = "",
          refresh_token: Annotated[str, Form(max_length=8192)] = "") -> JSONResponse:
    """Tokens for an approved device code, or a refresh token exchanged (and rotated)."""
    if grant_type == _DEVICE_GRANT:
        _check_client(iw, client_id)
        identity, scope = iw.auth.device.redeem(device_code, client_id, iw.config.registry)
        return JSONResponse(iw.auth.tokens.issue(identity, scope).response())
    if grant_type == "refresh_token":
        try:
            pair = iw.auth.tokens.refresh(refresh_token)
        except NotAuthenticated as exc:
            return JSONResponse({"error": "invalid_grant", "detail": str(exc)}, status_code=401)
        return JSONResponse(pair.response())
    raise DeviceFlowError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")


@router.get("/userinfo")
def userinfo(identity: Caller) -> dict[str, Any]:
    """Who the access token stands for."""
    return {"sub": f"{identity.vo}:{identity.user}", "vo": identity.vo,
            "dirac_group": identity.group, "policies": {},
            "properties": sorted(identity.properties), "preferred_username": identity.user}


@router.post("/revoke")
def revoke(iw: Iw, token: Annotated[str, Form(max_length=8192)],
           token_type_hint: Annotated[str, Form()] = "refresh_token",  # noqa: S107 (a type name)
           client_id: Annotated[str, Form()] = "") -> str:
    """Revoke a refresh token and every token of its login (RFC 7009: unknown tokens succeed)."""
    jti = iw.auth.tokens.revoke(token)
    return f"Refresh token {jti} revoked" if jti else "Nothing to revoke"

"""``/api/auth``: the device flow, the token endpoint, userinfo and revocation (DiracX's routes).

The device flow's verification page is served here: the user proves who
they are to the interware's identity provider (the built-in one asks for a
user name and password) and the flow is approved for that user. With a
redirect provider (OIDC) the device flow is relayed to the provider and the
browser sent there (:mod:`dirac_server.routes.auth_provider`).
"""

from __future__ import annotations

import html
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from dirac_core.auth.device import DeviceFlowError
from dirac_core.errors import DiracError, NotAuthenticated
from dirac_server.deps import Caller, Iw
from dirac_server.routes import auth_provider

router = APIRouter(prefix="/api/auth", tags=["auth"])

_DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def _check_client(iw: Iw, client_id: str) -> None:
    if client_id not in iw.config.auth.client_ids:
        raise DeviceFlowError("invalid_client", f"unknown client_id {client_id!r}")


@router.post("/device", response_model=None)
def start_device_flow(iw: Iw, client_id: Annotated[str, Query()],
                      scope: Annotated[str, Query()]) -> dict[str, Any] | JSONResponse:
    """Start a login; the user opens ``verification_uri_complete``."""
    _check_client(iw, client_id)
    if iw.auth.logins is not None:
        return auth_provider.start_relay(iw, client_id, scope)
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
    if iw.auth.logins is not None:
        return _page("Log in at the identity provider", "<p>This server's logins happen at its identity "
                     "provider: open the address that <code>dirac-core login</code> printed.</p>")
    fields = _login_fields(iw)
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


def _login_fields(iw: Iw) -> str:
    return "".join(
        f"<p><label>{html.escape(label)} <input name='{html.escape(name)}' "
        f"type='{'password' if 'password' in name else 'text'}'></label></p>"
        for name, label in iw.auth.provider.fields.items())


_AUTHORIZE_PARAMS = ("client_id", "redirect_uri", "code_challenge", "code_challenge_method", "scope",
                     "state")


@router.get("/authorize", response_class=HTMLResponse)
def authorize(*, iw: Iw, response_type: Annotated[str, Query()], client_id: Annotated[str, Query()],
              redirect_uri: Annotated[str, Query(max_length=1024)],
              code_challenge: Annotated[str, Query(max_length=128)],
              code_challenge_method: Annotated[str, Query()], scope: Annotated[str, Query()],
              state: Annotated[str, Query(max_length=1024)] = "") -> Response:
    """The authorization-code flow (PKCE S256): the identity provider's login form, or a
    redirect to the provider's own login page."""
    if response_type != "code":
        raise DeviceFlowError("unsupported_response_type", "only response_type=code")
    if iw.auth.logins is not None:
        return auth_provider.to_provider(iw, client_id=client_id, redirect_uri=redirect_uri,
                                         code_challenge=code_challenge, scope=scope, state=state,
                                         code_challenge_method=code_challenge_method)
    iw.auth.codes.check_request(client_id, redirect_uri, code_challenge, code_challenge_method)
    values = dict(zip(_AUTHORIZE_PARAMS, (client_id, redirect_uri, code_challenge,
                                          code_challenge_method, scope, state), strict=True))
    hidden = "".join(f"<input type='hidden' name='{k}' value='{html.escape(v, quote=True)}'>"
                     for k, v in values.items())
    return _page("Log in to dirac-core", f"<form method='post' action='authorize/approve'>{hidden}"
                 f"{_login_fields(iw)}<p><button type='submit'>Log in</button></p></form>")


@router.post("/authorize/approve", response_model=None)
def authorize_approve(*, iw: Iw, client_id: Annotated[str, Form()],
                      redirect_uri: Annotated[str, Form(max_length=1024)],
                      code_challenge: Annotated[str, Form(max_length=128)],
                      code_challenge_method: Annotated[str, Form()], scope: Annotated[str, Form()],
                      state: Annotated[str, Form(max_length=1024)] = "",
                      username: Annotated[str, Form(max_length=64)] = "",
                      password: Annotated[str, Form(max_length=1024)] = ""
                      ) -> HTMLResponse | RedirectResponse:
    """Check the credentials, then send the browser back to the client with a one-time code."""
    iw.auth.codes.check_request(client_id, redirect_uri, code_challenge, code_challenge_method)
    try:
        user = iw.auth.authenticate({"username": username, "password": password})
    except NotAuthenticated as exc:
        return _page("Login failed", f"<p>{html.escape(str(exc))}</p>", status=401)
    try:
        code = iw.auth.codes.grant(client_id=client_id, redirect_uri=redirect_uri,
                                   challenge=code_challenge, scope=scope, user=user,
                                   registry=iw.config.registry)
    except DiracError as exc:
        return _page("Login failed", f"<p>{html.escape(str(exc))}</p>", status=403)
    query = urlencode({"code": code, "state": state} if state else {"code": code})
    joiner = "&" if "?" in redirect_uri else "?"
    return RedirectResponse(f"{redirect_uri}{joiner}{query}", status_code=303)


@router.post("/token")
def token(*, iw: Iw, grant_type: Annotated[str, Form()],
          client_id: Annotated[str, Form()] = "",
          device_code: Annotated[str, Form(max_length=256)] = "",
          refresh_token: Annotated[str, Form(max_length=8192)] = "",
          code: Annotated[str, Form(max_length=256)] = "",
          redirect_uri: Annotated[str, Form(max_length=1024)] = "",
          code_verifier: Annotated[str, Form(max_length=128)] = "") -> JSONResponse:
    """Tokens for an approved device code or an authorization code (with its PKCE verifier),
    or a refresh token exchanged (and rotated)."""
    if grant_type == "authorization_code":
        identity, scope = iw.auth.codes.redeem(code=code, client_id=client_id,
                                               redirect_uri=redirect_uri, verifier=code_verifier,
                                               registry=iw.config.registry)
        return JSONResponse(iw.auth.tokens.issue(identity, scope).response())
    if grant_type == _DEVICE_GRANT:
        _check_client(iw, client_id)
        return auth_provider.redeem_device(iw, device_code, client_id)
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


router.include_router(auth_provider.router)

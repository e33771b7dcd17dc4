"""Logging in and out of the portal through the server's own authorization-code flow.

``/login`` offers the registry's VOs and groups; ``/auth/start`` keeps a fresh
``state`` and PKCE verifier in a short-lived cookie and sends the browser to
``/api/auth/authorize`` (the identity provider's login form, or the OIDC
provider behind it); the server sends it back to ``/auth/callback`` with a code,
which is redeemed with the verifier exactly as the token endpoint does, and the
token pair becomes the session cookie. ``/logout`` revokes the refresh token's
whole family and drops the cookie.

The login cookie is ``SameSite=Lax``: with an OIDC provider the callback arrives
from another site, and a ``Strict`` cookie would not be sent with it. The session
cookie is ``Strict``; the callback answers with a page that moves on by itself
(a same-site navigation, which carries it) rather than a redirect.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dirac_core.auth.codes import s256
from dirac_core.auth.device import DeviceFlowError
from dirac_core.interware import Interware
from dirac_server.portal.pages import (
    ViewerDep,
    callback_url,
    check_form,
    is_secure,
    portal_state,
    render,
    viewer,
)
from dirac_server.portal.session import (
    COOKIE,
    LOGIN_COOKIE,
    LoginRequired,
    LoginState,
    SessionData,
    cookie_name,
    encode_cookie,
)

__all__ = ["router", "safe_next"]

router = APIRouter()

#: how long a login may take between the start and the callback
LOGIN_SECONDS = 600
#: a VO or group name (nothing that would add another word to the OAuth scope)
NAME = r"^[A-Za-z0-9_.\-]+$"


def _mount(request: Request) -> str:
    return str(request.scope.get("root_path", ""))


def safe_next(request: Request, wanted: str | None) -> str:
    """Where to go after logging in: a page of the portal, never another site (an open redirect)."""
    base = _mount(request)
    default = f"{base}/jobs"
    if not wanted or not wanted.startswith(f"{base}/") or wanted.startswith("//"):
        return default
    if any(c in wanted for c in "\\\r\n\t") or urlsplit(wanted).netloc:
        return default
    return wanted


def _iw(request: Request) -> Interware:
    iw: Interware = portal_state(request).interware
    return iw


def _callback(iw: Interware) -> str:
    return callback_url(iw.config.auth.issuer)


def _elsewhere(request: Request, iw: Interware) -> bool:
    """Whether the browser reached the portal by another host name than the issuer's (where the
    login's cookie and the callback live). A proxy that keeps the Host header passes; one that
    does not is sent once to the issuer (``moved``), never in a loop."""
    wanted = (urlsplit(iw.config.auth.issuer).hostname or "").lower()
    return (request.url.hostname or "").lower() != wanted and "moved" not in request.query_params


@router.get("/", include_in_schema=False)
def home(request: Request) -> RedirectResponse:
    """The job monitor is the portal's first page."""
    return RedirectResponse(f"{_mount(request)}/jobs", status_code=303)


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: Annotated[str | None, Query(max_length=2048)] = None,
               bye: bool = False) -> Response:
    """The VOs and groups one may log in to; each link starts the authorization-code flow."""
    iw = _iw(request)
    if _elsewhere(request, iw):
        query = urlencode({"moved": "true", **({"next": next} if next else {})})
        return RedirectResponse(f"{iw.config.auth.issuer.rstrip('/')}{_mount(request)}/login?{query}",
                                status_code=303)
    try:
        who = viewer(request)
    except LoginRequired:
        who = None
    if who is not None and not bye:
        return RedirectResponse(safe_next(request, next), status_code=303)
    registry = iw.config.registry
    vos = [{"name": vo.name, "default": vo.default_group,
            "groups": sorted(g.name for g in registry.groups.values() if g.vo == vo.name)}
           for vo in sorted(registry.vos.values(), key=lambda v: v.name)]
    callback = _callback(iw)
    return render(request, "login.html", {
        "vos": vos, "next": safe_next(request, next), "bye": bye, "callback": callback,
        "registered": callback in iw.config.auth.allowed_redirects})


@router.get("/auth/start")
def start_login(request: Request, vo: Annotated[str, Query(max_length=64, pattern=NAME)],
                group: Annotated[str | None, Query(max_length=64, pattern=NAME)] = None,
                next: Annotated[str | None, Query(max_length=2048)] = None) -> RedirectResponse:
    """Keep a new state and verifier, and go to the server's authorization endpoint."""
    iw = _iw(request)
    login = LoginState.new(safe_next(request, next))
    scope = f"vo:{vo}" + (f" group:{group}" if group else "")
    query = urlencode({"response_type": "code", "client_id": iw.config.auth.client_ids[0],
                       "redirect_uri": _callback(iw), "code_challenge": s256(login.verifier),
                       "code_challenge_method": "S256", "scope": scope, "state": login.state})
    response = RedirectResponse(f"{iw.config.auth.issuer.rstrip('/')}/api/auth/authorize?{query}",
                                status_code=303)
    secure = is_secure(iw)
    response.set_cookie(cookie_name(LOGIN_COOKIE, secure), login.encode(), max_age=LOGIN_SECONDS,
                        httponly=True, secure=secure, samesite="lax", path="/")
    return response


@router.get("/auth/callback", response_class=HTMLResponse)
def login_callback(request: Request, code: Annotated[str, Query(max_length=256)] = "",
                   state: Annotated[str, Query(max_length=1024)] = "",
                   error: Annotated[str, Query(max_length=256)] = "") -> Response:
    """Redeem the code with the login's verifier; the token pair becomes the session."""
    iw = _iw(request)
    secure = is_secure(iw)
    login = LoginState.decode(request.cookies.get(cookie_name(LOGIN_COOKIE, secure)))
    if error or not code:
        return render(request, "error.html", {"status": 400, "message": f"the login did not finish: "
                                              f"{error or 'no code'}", "retry": True}, status=400)
    if login is None or not login.matches(state):
        return render(request, "error.html", {"status": 400, "retry": True, "message":
                      "this login expired or was started elsewhere: start again"}, status=400)
    try:
        identity, scope = iw.auth.codes.redeem(code=code, client_id=iw.config.auth.client_ids[0],
                                               redirect_uri=_callback(iw), verifier=login.verifier,
                                               registry=iw.config.registry)
    except DeviceFlowError as exc:
        return render(request, "error.html", {"status": 400, "message": str(exc), "retry": True},
                      status=400)
    session = SessionData.new(iw.auth.tokens.issue(identity, scope))
    response = render(request, "continue.html", {"target": login.next, "user": identity.user,
                                                 "group": identity.group})
    response.set_cookie(cookie_name(COOKIE, secure), encode_cookie(session), httponly=True,
                        secure=secure, samesite="strict", path="/")
    response.delete_cookie(cookie_name(LOGIN_COOKIE, secure), path="/", secure=secure, httponly=True,
                           samesite="lax")
    return response


@router.post("/logout")
def logout(request: Request, who: ViewerDep, csrf: Annotated[str, Form(max_length=128)] = ""
           ) -> RedirectResponse:
    """Revoke the session's tokens (the refresh token's whole family) and forget the cookie."""
    check_form(request, who, csrf)
    request.state.new_session = None  # a pair refreshed just now is not put back in the cookie
    iw = _iw(request)
    iw.auth.tokens.revoke(who.session.refresh)
    response = RedirectResponse(f"{_mount(request)}/login?bye=true", status_code=303)
    secure = is_secure(iw)
    response.delete_cookie(cookie_name(COOKIE, secure), path="/", secure=secure, httponly=True,
                           samesite="strict")
    return response

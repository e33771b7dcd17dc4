"""What every portal page shares: the logged-in viewer, CSRF checks, and rendering.

Templates are Jinja2 with autoescaping on for every template (whatever its name):
job names, parameters, LFNs, minor statuses and pilot logs are data written by
users and payloads, and they reach the page as text. No template marks user data
``|safe``; ``tests/server/test_portal_pages.py`` checks that.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import attrs
import jinja2
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse

from dirac_core.config import Config
from dirac_core.errors import NotAuthenticated, PermissionDenied
from dirac_core.interware import Interware
from dirac_core.model.identity import Identity
from dirac_server.portal.session import (
    COOKIE,
    LoginRequired,
    Refresher,
    SessionData,
    cookie_name,
    csrf_ok,
    csrf_token,
    decode_cookie,
)

__all__ = ["MOUNT", "TEMPLATES", "Viewer", "ViewerDep", "allow_portal_login", "callback_url", "check_form",
           "environment", "is_secure", "portal_state", "render", "viewer"]

TEMPLATES = Path(__file__).parent / "templates"
#: where the portal is mounted in the reference server
MOUNT = "/portal"


def callback_url(issuer: str) -> str:
    """The portal's login callback for a server whose public URL (token issuer) is ``issuer``:
    the redirect URI the authorization-code flow must accept (``[auth] allowed_redirects``)."""
    return f"{issuer.rstrip('/')}{MOUNT}/auth/callback"


def allow_portal_login(config: Config) -> Config:
    """``config`` whose ``[auth] allowed_redirects`` include the portal's callback (at its issuer):
    the server's own page, so ``dirac-core server`` accepts it without a configuration line."""
    auth = config.auth
    wanted = callback_url(auth.issuer)
    if wanted in auth.allowed_redirects:
        return config
    return attrs.evolve(config, auth=attrs.evolve(auth, allowed_redirects=(*auth.allowed_redirects, wanted)))


def _when(value: Any) -> str:
    """A time as ``YYYY-MM-DD HH:MM:SS`` UTC; ``-`` for none."""
    if not isinstance(value, datetime):
        return "-" if value is None else str(value)
    moment = value.astimezone(UTC) if value.tzinfo else value
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}%"


def environment() -> jinja2.Environment:
    """The portal's template environment: autoescaping on for every template, undefined
    names an error (a typo in a template fails its test instead of rendering blank)."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = _when
    env.filters["percent"] = _percent
    return env


def portal_state(request: Request) -> Any:
    """The portal app's state (interware, templates, refresher, settings)."""
    return request.app.state


@attrs.frozen
class Viewer:
    """The logged-in person looking at a page: identity, session, the portal's base path."""

    identity: Identity
    session: SessionData
    base: str

    @property
    def csrf(self) -> str:
        """The CSRF token every form of the page carries."""
        return csrf_token(self.session)


def is_secure(iw: Interware) -> bool:
    """Whether the portal is reached over https (its cookies are then ``Secure``)."""
    return iw.config.auth.issuer.startswith("https://")


def viewer(request: Request) -> Viewer:
    """The session's identity, refreshing the token pair when the access token expired;
    :class:`LoginRequired` without a usable session."""
    state = portal_state(request)
    iw: Interware = state.interware
    session = decode_cookie(request.cookies.get(cookie_name(COOKIE, is_secure(iw))))
    if session is None:
        raise LoginRequired("not logged in")
    try:
        identity = iw.auth.tokens.identity(session.access)
    except NotAuthenticated:
        refresher: Refresher = state.refresher
        session = session.with_pair(refresher.refresh(session.refresh))
        try:
            identity = iw.auth.tokens.identity(session.access)
        except NotAuthenticated as exc:
            raise LoginRequired(str(exc)) from None
        request.state.new_session = session  # the middleware sets the cookie on the answer
    return Viewer(identity, session, request.scope.get("root_path", ""))


ViewerDep = Annotated[Viewer, Depends(viewer)]


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def check_form(request: Request, who: Viewer, csrf: str) -> None:
    """Refuse (``PermissionDenied``) a state-changing form that is not our own: a wrong CSRF
    token, or a browser telling us it comes from another site."""
    iw: Interware = portal_state(request).interware
    origin = request.headers.get("origin")
    ours = {_origin(str(request.base_url)), _origin(iw.config.auth.issuer)}
    if request.headers.get("sec-fetch-site") == "cross-site" or (origin and origin not in ours):
        raise PermissionDenied("the form was sent from another site")
    if not csrf_ok(who.session, csrf):
        raise PermissionDenied("the form's CSRF token is missing or wrong: reload the page and try again")


def render(request: Request, template: str, context: Mapping[str, Any], *, who: Viewer | None = None,
           status: int = 200) -> HTMLResponse:
    """The page ``template`` rendered with ``context`` (plus ``base``, ``who`` and ``nav``)."""
    env: jinja2.Environment = portal_state(request).templates
    base = who.base if who is not None else request.scope.get("root_path", "")
    page = env.get_template(template).render(base=base, who=who, **context)
    return HTMLResponse(page, status_code=status)

"""The portal as a sub-application mounted at ``/portal`` of the reference server.

A sub-application keeps the portal's answers apart from the API's: every portal
response (pages, static files, errors) gets the security headers below, errors
are HTML pages instead of JSON, and a page that needs a login sends the browser
to the login page instead of answering 401.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from dirac_core.errors import DatabaseUnavailable, DiracError
from dirac_core.interware import Interware
from dirac_server.errors import status_of
from dirac_server.portal import accounting_pages, auth_pages, jobs_pages, monitors
from dirac_server.portal.pages import MOUNT, Viewer, environment, is_secure, render, viewer
from dirac_server.portal.session import COOKIE, LoginRequired, Refresher, cookie_name, encode_cookie

__all__ = ["SECURITY_HEADERS", "create_portal", "install"]

STATIC = Path(__file__).parent / "static"

#: every portal answer carries these: only our own scripts, styles, images and forms; never
#: framed; no MIME sniffing; no referrer to other sites (a login callback's URL holds a code;
#: "no-referrer" would also make Chromium send ``Origin: null`` with our own forms)
SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                                "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
                                "base-uri 'none'"),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def _login_redirect(request: Request) -> RedirectResponse:
    """To the login page, coming back here afterwards (a GET page; a form starts over)."""
    login = f"{request.scope.get('root_path', '')}/login"
    if request.method != "GET":
        return RedirectResponse(login, status_code=303)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{login}?next={quote(here, safe='')}", status_code=303)


def _error_page(request: Request, message: str, status: int) -> Response:
    """An error page, with the navigation when the browser is logged in."""
    try:
        who: Viewer | None = viewer(request)
    except DiracError:
        who = None
    return render(request, "error.html", {"message": message, "status": status}, who=who, status=status)


def _install_handlers(portal: FastAPI) -> None:
    async def login_required(request: Request, exc: Exception) -> Response:
        return _login_redirect(request)

    async def dirac_error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, DatabaseUnavailable):
            return _error_page(request, "the database is unavailable; try again later", 503)
        return _error_page(request, str(exc), status_of(exc) if isinstance(exc, DiracError) else 400)

    async def database_busy(request: Request, exc: Exception) -> Response:
        # a deadlock or a lock timeout: nothing was written, the page may be loaded again
        return render(request, "error.html", {"message": "the database is busy; try again", "status": 503},
                      status=503)

    async def http_error(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
        message = "no such page" if status == 404 else str(getattr(exc, "detail", "error"))
        return _error_page(request, message, status)

    async def bad_request(request: Request, exc: Exception) -> Response:
        fields = ", ".join(str(e.get("loc", ("",))[-1]) for e in getattr(exc, "errors", list)())
        return _error_page(request, f"bad value for: {fields}", 400)

    portal.add_exception_handler(LoginRequired, login_required)
    portal.add_exception_handler(DiracError, dirac_error)
    portal.add_exception_handler(StarletteHTTPException, http_error)
    portal.add_exception_handler(RequestValidationError, bad_request)
    portal.add_exception_handler(sa_exc.OperationalError, database_busy)
    portal.add_exception_handler(sa_exc.TimeoutError, database_busy)


def create_portal(interware: Interware) -> FastAPI:
    """The portal application serving ``interware`` (mount it at :data:`MOUNT`)."""
    portal = FastAPI(title="dirac-core portal", openapi_url=None, docs_url=None, redoc_url=None)
    portal.state.interware = interware
    portal.state.templates = environment()
    portal.state.refresher = Refresher(interware.auth.tokens)
    secure = is_secure(interware)

    @portal.middleware("http")
    async def headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        response.headers.update(SECURITY_HEADERS)
        static = request.url.path.startswith(f"{request.scope.get('root_path', '')}/static/")
        if not static and "cache-control" not in response.headers:  # plots say how long they keep
            response.headers["Cache-Control"] = "no-store"
        session = getattr(request.state, "new_session", None)
        if session is not None:  # the tokens were refreshed while serving this page
            response.set_cookie(cookie_name(COOKIE, secure), encode_cookie(session), httponly=True,
                                secure=secure, samesite="strict", path="/")
        return response

    _install_handlers(portal)
    for module in (auth_pages, jobs_pages, monitors, accounting_pages):
        portal.include_router(module.router)
    portal.mount("/static", StaticFiles(directory=STATIC), name="static")
    return portal


def install(app: FastAPI, interware: Interware) -> None:
    """Mount the portal at :data:`MOUNT` of ``app``, and send ``/`` there."""
    app.mount(MOUNT, create_portal(interware))

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse(f"{MOUNT}/", status_code=307)

"""Logging a client in to the reference server's web portal, the way a browser does.

:func:`portal_login` walks the portal's own authorization-code flow with PKCE
(``/portal/auth/start``, the server's login form at ``/api/auth/authorize``, the
password approval, ``/portal/auth/callback``) with the built-in identity provider
(a user with a ``password_hash`` in the registry). The client keeps the session
cookie the callback sets. It takes any client with httpx's ``get`` and ``post``
(``httpx.Client``; Starlette's ``TestClient``, on ``httpx2``), so the tests and the
benchmarks log in the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, TypeVar
from urllib.parse import parse_qsl, urlsplit

__all__ = ["PortalAnswer", "PortalClient", "portal_login"]


class PortalAnswer(Protocol):
    """What :func:`portal_login` reads of an answer (an httpx ``Response``)."""

    @property
    def status_code(self) -> int:
        """The HTTP status."""

    @property
    def headers(self) -> Mapping[str, str]:
        """The answer's headers."""


_AnswerT_co = TypeVar("_AnswerT_co", bound=PortalAnswer, covariant=True)
_Answer = TypeVar("_Answer", bound=PortalAnswer)


class PortalClient(Protocol[_AnswerT_co]):
    """A client keeping cookies, as httpx's: ``httpx.Client``, Starlette's ``TestClient``."""

    def get(self, url: str, *, params: Any = ..., follow_redirects: bool = ...) -> _AnswerT_co:
        """GET ``url``."""

    def post(self, url: str, *, data: Any = ..., follow_redirects: bool = ...) -> _AnswerT_co:
        """POST the form ``data`` to ``url``."""


def portal_login(client: PortalClient[_Answer], *, user: str, password: str, vo: str,
                 group: str | None = None, next_page: str | None = None) -> _Answer:
    """Log ``client`` in to the portal as ``user`` of ``vo`` (in ``group``, else the VO's default).

    Returns the callback's answer (200, the session cookie set), or the first answer that is not
    the flow's next step (the login form's refusal: 401 for a wrong password)."""
    params = {"vo": vo, **({"group": group} if group else {}), **({"next": next_page} if next_page else {})}
    start = client.get("/portal/auth/start", params=params, follow_redirects=False)
    if start.status_code != 303:
        return start
    authorize = urlsplit(start.headers["location"])
    form = client.get(f"{authorize.path}?{authorize.query}", follow_redirects=False)
    if form.status_code != 200:
        return form
    fields = {k: v for k, v in parse_qsl(authorize.query) if k != "response_type"}
    approved = client.post("/api/auth/authorize/approve", data={**fields, "username": user,
                                                                 "password": password},
                           follow_redirects=False)
    if approved.status_code != 303:
        return approved
    back = urlsplit(approved.headers["location"])
    return client.get(f"{back.path}?{back.query}", follow_redirects=False)

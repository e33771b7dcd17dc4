"""The portal's session: our own token pair in one HttpOnly cookie, refreshed when needed.

The browser never sees a token in JavaScript: the access and refresh tokens the
authorization-code flow gave live in an ``HttpOnly; SameSite=Strict`` cookie
(``Secure`` and named ``__Host-...`` when the issuer is https, so that no sibling
host can plant one). Each page checks the access token; an expired one is
exchanged with the refresh token (which rotates it) and the new pair goes back in
the response's cookie. Nothing is kept on the server but the refresh-token
families the token service keeps anyway, so the portal works behind several
replicas like the API.

Refresh tokens are single-use: a second use revokes the whole login. A browser
that loads a page and its plots at the moment the access token expires sends
the same refresh token several times at once; :class:`Refresher` answers those
with the pair the first exchange produced (for a few seconds, per process)
instead of treating them as a replay.

A CSRF token is derived from the session's random id (``HMAC(sid, ...)``): it is
stable across refreshes, needs no server secret, and only whoever reads the
cookie (the browser, for our own pages) can compute it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import threading
import time
from typing import Any

import attrs

from dirac_core.auth.tokens import TokenPair, TokenService
from dirac_core.errors import DiracError, NotAuthenticated

__all__ = ["COOKIE", "LOGIN_COOKIE", "LoginRequired", "LoginState", "Refresher", "SessionData",
           "cookie_name", "csrf_token", "decode_cookie", "encode_cookie"]

#: the session cookie (``__Host-`` prefixed over https)
COOKIE = "dirac-portal"
#: the cookie holding a login in progress (state, PKCE verifier, where to go afterwards)
LOGIN_COOKIE = "dirac-portal-login"
#: the longest cookie value read (browsers keep 4 KiB per cookie)
MAX_COOKIE = 4096
#: how long a refresh answer is reused for the same refresh token
REFRESH_GRACE_SECONDS = 10.0


class LoginRequired(DiracError):
    """No session, or one whose tokens can no longer be used: the browser goes to the login page."""


def cookie_name(base: str, secure: bool) -> str:
    """``base``, or ``__Host-base`` for a secure cookie (then its path must be ``/``)."""
    return f"__Host-{base}" if secure else base


def _encode(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(value: str | None) -> dict[str, Any] | None:
    if not value or len(value) > MAX_COOKIE:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


@attrs.frozen
class SessionData:
    """What the session cookie holds: a random session id and the token pair."""

    sid: str
    access: str
    refresh: str

    @classmethod
    def new(cls, pair: TokenPair) -> SessionData:
        """A new session (a new id) for a pair just issued."""
        return cls(secrets.token_urlsafe(24), pair.access_token, pair.refresh_token)

    def with_pair(self, pair: TokenPair) -> SessionData:
        """The same session with a refreshed pair."""
        return attrs.evolve(self, access=pair.access_token, refresh=pair.refresh_token)


def encode_cookie(session: SessionData) -> str:
    """The cookie value of ``session``."""
    return _encode({"sid": session.sid, "a": session.access, "r": session.refresh})


def decode_cookie(value: str | None) -> SessionData | None:
    """The session in a cookie value; None when absent or malformed (the tokens are not checked)."""
    data = _decode(value)
    if data is None:
        return None
    parts = (data.get("sid"), data.get("a"), data.get("r"))
    if not all(isinstance(part, str) and part for part in parts):
        return None
    return SessionData(*parts)  # type: ignore[arg-type]


def csrf_token(session: SessionData) -> str:
    """The CSRF token of the session's forms (stable across token refreshes)."""
    digest = hmac.new(session.sid.encode(), b"dirac-portal-csrf", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def csrf_ok(session: SessionData, given: str) -> bool:
    """Whether ``given`` is the session's CSRF token (constant-time)."""
    return hmac.compare_digest(csrf_token(session).encode(), given.encode())


@attrs.frozen
class LoginState:
    """A login in progress: the OAuth ``state``, the PKCE verifier, and the page to return to."""

    state: str
    verifier: str
    next: str

    @classmethod
    def new(cls, next_page: str) -> LoginState:
        """Fresh random state and verifier (the verifier: 64 URL-safe characters, RFC 7636)."""
        return cls(secrets.token_urlsafe(24), secrets.token_urlsafe(48), next_page)

    def encode(self) -> str:
        """The login cookie's value."""
        return _encode({"s": self.state, "v": self.verifier, "n": self.next})

    @classmethod
    def decode(cls, value: str | None) -> LoginState | None:
        """The login in a cookie value; None when absent or malformed."""
        data = _decode(value)
        if data is None:
            return None
        parts = (data.get("s"), data.get("v"), data.get("n"))
        if not all(isinstance(part, str) and part for part in parts):
            return None
        return cls(*parts)  # type: ignore[arg-type]

    def matches(self, state: str) -> bool:
        """Whether the provider's ``state`` is this login's (constant-time)."""
        return hmac.compare_digest(self.state.encode(), state.encode())


class Refresher:
    """Exchanges refresh tokens, answering repeats of one exchange with its result for
    :data:`REFRESH_GRACE_SECONDS` (concurrent requests of one browser), per process."""

    def __init__(self, tokens: TokenService, grace: float = REFRESH_GRACE_SECONDS) -> None:
        self._tokens = tokens
        self._grace = grace
        self._lock = threading.Lock()
        self._recent: dict[str, tuple[float, TokenPair]] = {}

    def refresh(self, refresh_token: str) -> TokenPair:
        """A new pair for ``refresh_token``; :class:`LoginRequired` when it cannot be used."""
        key = hashlib.sha256(refresh_token.encode()).hexdigest()
        now = time.monotonic()
        with self._lock:  # one exchange at a time: the second caller finds the first one's pair
            self._recent = {k: v for k, v in self._recent.items() if now - v[0] < self._grace}
            if key in self._recent:
                return self._recent[key][1]
            try:
                pair = self._tokens.refresh(refresh_token)
            except NotAuthenticated as exc:
                raise LoginRequired(f"the session ended: {exc}") from None
            self._recent[key] = (now, pair)
        return pair

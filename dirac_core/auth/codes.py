"""The OAuth authorization-code grant with PKCE (RFC 7636, S256 only), for browsers.

The user logs in at the identity provider's page; the server redirects the
browser to the client's registered ``redirect_uri`` with a one-time code;
the client exchanges it, with the verifier whose SHA-256 it sent first.
Codes live five minutes and only their hash is stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import timedelta

from sqlalchemy import delete, insert, select

from dirac_core.auth.device import DeviceFlowError
from dirac_core.auth.scopes import parse_scope, resolve
from dirac_core.config.auth import AuthSettings
from dirac_core.config.registry import Registry
from dirac_core.db.database import Database
from dirac_core.db.tables.auth import authorization_codes
from dirac_core.errors import DiracError
from dirac_core.model.clock import Clock
from dirac_core.model.identity import Identity

__all__ = ["AuthorizationCodes", "s256"]

_LIFETIME = timedelta(minutes=5)


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of ``verifier``."""
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


class AuthorizationCodes:
    """Authorization codes stored in ``auth_authorization_codes``."""

    def __init__(self, *, database: Database, settings: AuthSettings, clock: Clock) -> None:
        self._database = database
        self._settings = settings
        self._clock = clock

    def check_request(self, client_id: str, redirect_uri: str, challenge: str, method: str) -> None:
        """Refuse (``DeviceFlowError``) an unknown client, an unregistered redirect, no S256."""
        if client_id not in self._settings.client_ids:
            raise DeviceFlowError("invalid_client", f"unknown client_id {client_id!r}")
        if redirect_uri not in self._settings.allowed_redirects:
            raise DeviceFlowError("invalid_request", "redirect_uri is not registered")
        if method != "S256" or not 43 <= len(challenge) <= 128:
            raise DeviceFlowError("invalid_request", "PKCE with code_challenge_method=S256 is required")

    def grant(self, *, client_id: str, redirect_uri: str, challenge: str, scope: str,
              user: str, registry: Registry) -> str:
        """A one-time code for ``user`` (authenticated by the caller) and ``scope``."""
        resolve(parse_scope(scope), user, registry)  # PermissionDenied / InvalidScope now
        code = secrets.token_urlsafe(32)
        with self._database.begin() as conn:
            conn.execute(insert(authorization_codes).values(
                code_hash=_hash(code), client_id=client_id, redirect_uri=redirect_uri[:1024],
                code_challenge=challenge, scope=scope[:1024], user=user,
                expires=self._clock.now() + _LIFETIME))
        return code

    def redeem(self, *, code: str, client_id: str, redirect_uri: str, verifier: str,
               registry: Registry) -> tuple[Identity, str]:
        """The identity and scope of a code, once; ``invalid_grant`` for anything amiss."""
        with self._database.begin() as conn:
            row = conn.execute(select(authorization_codes).where(
                authorization_codes.c.code_hash == _hash(code))).mappings().first()
            if row is not None:  # used once, whatever happens next
                conn.execute(delete(authorization_codes)
                             .where(authorization_codes.c.code_hash == row["code_hash"]))
        if (row is None or row["expires"] < self._clock.now() or row["client_id"] != client_id
                or row["redirect_uri"] != redirect_uri
                or not hmac.compare_digest(s256(verifier), row["code_challenge"])):
            raise DeviceFlowError("invalid_grant", "invalid, expired or used authorization code")
        try:
            return resolve(parse_scope(row["scope"]), row["user"], registry), str(row["scope"])
        except DiracError as exc:
            raise DeviceFlowError("access_denied", str(exc)) from None

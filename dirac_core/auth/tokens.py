"""Access and refresh tokens: JWTs signed by the server's own key.

Access tokens carry DiracX's claims (``sub``, ``vo``, ``dirac_group``,
``dirac_properties``, ``preferred_username``, ``jti``, ``iat``, ``exp``, plus
``iss`` and ``aud``) and are checked without the database. Refresh tokens
are JWTs too (DiracX's client reads their ``exp``), recorded by ``jti`` with
their ``family`` (one per login): each use rotates it, and a second use of
a rotated token revokes the whole family, since someone replayed a stolen
token.
"""

from __future__ import annotations

import base64
import enum
import json
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs
from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy import insert, select, update

from dirac_core.auth.keys import ALGORITHM, KeyStore
from dirac_core.auth.scopes import parse_scope, resolve
from dirac_core.config.auth import AuthSettings
from dirac_core.config.registry import Property, Registry
from dirac_core.db.database import Database
from dirac_core.db.tables.auth import refresh_tokens
from dirac_core.errors import DiracError, NotAuthenticated, NotFound
from dirac_core.model.clock import Clock
from dirac_core.model.identity import Identity

__all__ = ["RefreshStatus", "TokenPair", "TokenService"]

#: Clock skew tolerated on ``exp``, ``nbf`` and ``iat``.
LEEWAY = timedelta(seconds=30)
#: The largest token accepted (the header of a request is bounded anyway).
MAX_TOKEN_BYTES = 8192


class RefreshStatus(enum.StrEnum):
    """A refresh token's state: usable, used once (rotated), or revoked."""

    ACTIVE = "active"
    ROTATED = "rotated"
    REVOKED = "revoked"


@attrs.frozen
class TokenPair:
    """What the token endpoint returns."""

    access_token: str
    refresh_token: str
    expires_in: int

    def response(self) -> dict[str, Any]:
        """The OAuth token response body."""
        return {"access_token": self.access_token, "expires_in": self.expires_in,
                "token_type": "Bearer", "refresh_token": self.refresh_token}


def _epoch(when: datetime) -> int:
    return int(when.timestamp())


class TokenService:
    """Issues, checks, rotates and revokes tokens."""

    def __init__(self, *, database: Database, settings: AuthSettings,
                 registry: Callable[[], Registry], clock: Clock, keys: KeyStore) -> None:
        self._database = database
        self.settings = settings
        self._registry = registry
        self._clock = clock
        self.keys = keys

    # -- issuing --------------------------------------------------------------

    def issue(self, identity: Identity, scope: str, *, family: str | None = None,
              access_minutes: int | None = None) -> TokenPair:
        """A new access token and refresh token for ``identity`` (a new login unless ``family``)."""
        now = self._clock.now()
        minutes = access_minutes or self.settings.access_token_minutes
        access = self.sign(self.access_claims(identity, now, timedelta(minutes=minutes)))
        jti = str(uuid.uuid4())
        expires = now + timedelta(minutes=self.settings.refresh_token_minutes)
        with self._database.begin() as conn:
            conn.execute(insert(refresh_tokens).values(
                jti=jti, family=family or jti, user=identity.user, vo=identity.vo,
                owner_group=identity.group, scope=scope[:1024], issued=now, expires=expires,
                status=RefreshStatus.ACTIVE.value))
        refresh = self.sign({"iss": self.settings.issuer, "aud": self.settings.audience,
                             "jti": jti, "sub": f"{identity.vo}:{identity.user}",
                             "iat": _epoch(now), "exp": _epoch(expires), "typ": "refresh"})
        return TokenPair(access, refresh, minutes * 60)

    def access_claims(self, identity: Identity, now: datetime, lifetime: timedelta
                      ) -> dict[str, Any]:
        """DiracX's access-token claims for ``identity``."""
        return {"iss": self.settings.issuer, "aud": self.settings.audience,
                "sub": f"{identity.vo}:{identity.user}", "vo": identity.vo,
                "dirac_group": identity.group, "dirac_properties": sorted(identity.properties),
                "dirac_policies": {}, "preferred_username": identity.user,
                "jti": str(uuid.uuid4()), "iat": _epoch(now), "exp": _epoch(now + lifetime)}

    def issue_pilot(self, vo: str, pilot_stamp: str, *, minutes: int | None = None) -> str:
        """A short-lived access token for one pilot (no refresh token): it may match jobs
        and update the jobs that pilot holds. The site director issues them."""
        group = _pilot_group(self._registry(), vo)
        now = self._clock.now()
        lifetime = timedelta(minutes=minutes or self.settings.pilot_token_minutes)
        claims = self.access_claims(Identity(user=f"pilot:{pilot_stamp}", group=group, vo=vo,
                                             properties={Property.GENERIC_PILOT}), now, lifetime)
        claims["dirac_pilot"] = pilot_stamp
        return self.sign(claims)

    def sign(self, claims: Mapping[str, Any]) -> str:
        """``claims`` as a JWT signed with the current key."""
        key = self.keys.signing_key()
        return jwt.encode({"alg": ALGORITHM, "kid": key.kid, "typ": "JWT"}, dict(claims), key,
                          algorithms=[ALGORITHM])

    # -- checking -------------------------------------------------------------

    def claims(self, token: str, *, kind: str = "access") -> dict[str, Any]:
        """The verified claims of ``token``; raises :class:`NotAuthenticated` (never says why
        in more detail than "invalid", "expired" or "not yet valid").

        ``kind`` is the token's ``typ`` claim: "access" (no ``typ``), "refresh", or what the
        signer chose (``sandbox-upload``...): a token of one kind is never taken for another.
        """
        if not token or len(token) > MAX_TOKEN_BYTES or token.count(".") != 2:
            raise NotAuthenticated("invalid token")
        try:
            header = json.loads(_b64decode(token.split(".", 1)[0]))
            kid = header.get("kid") if isinstance(header, dict) else None
            decoded = jwt.decode(token, self.keys.key_set(kid if isinstance(kid, str) else None),
                                 algorithms=[ALGORITHM])
        except (JoseError, ValueError, TypeError, RecursionError):  # deeply nested JSON header
            raise NotAuthenticated("invalid token") from None
        claims = dict(decoded.claims)
        now = _epoch(self._clock.now())
        leeway = int(LEEWAY.total_seconds())
        if claims.get("iss") != self.settings.issuer or claims.get("aud") != self.settings.audience:
            raise NotAuthenticated("invalid token")
        if claims.get("typ") != (None if kind == "access" else kind):  # access tokens have no typ
            raise NotAuthenticated("invalid token")
        exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
        if not isinstance(exp, int) or exp + leeway < now:
            raise NotAuthenticated("expired token")
        for stamp in (nbf, iat):
            if stamp is not None and (not isinstance(stamp, int) or stamp - leeway > now):
                raise NotAuthenticated("token not yet valid")
        return claims

    def identity(self, token: str) -> Identity:
        """The identity an access token stands for, as the registry has it now.

        A user removed from the group, or a group that lost a property, loses
        it at once, not when the token expires.
        """
        claims = self.claims(token)
        try:
            user, group, vo = (claims["preferred_username"], claims["dirac_group"], claims["vo"])
            wanted = frozenset(claims.get("dirac_properties") or ())
        except (KeyError, TypeError):
            raise NotAuthenticated("invalid token") from None
        if not all(isinstance(value, str) for value in (user, group, vo, *wanted)):
            raise NotAuthenticated("invalid token")  # signed by us, so never, but never a 500 either
        registry = self._registry()
        stamp = claims.get("dirac_pilot")
        if isinstance(stamp, str):
            found = registry.groups.get(group)
            if found is None or found.vo != vo or Property.GENERIC_PILOT not in found.properties:
                raise NotAuthenticated("the pilot's group no longer exists")
            return Identity(user=user, group=group, vo=vo, properties={Property.GENERIC_PILOT},
                            pilot_stamp=stamp)
        found = registry.groups.get(group)
        if found is None or found.vo != vo or user not in found.users:
            raise NotAuthenticated("the token's user is no longer in its group")
        return Identity(user=user, group=group, vo=vo, properties=wanted & found.properties)

    # -- refresh tokens ---------------------------------------------------------

    def refresh(self, token: str) -> TokenPair:
        """Exchange a refresh token for a new pair (the old one is spent).

        A spent or revoked token revokes its whole family and raises
        :class:`NotAuthenticated`.
        """
        claims = self.claims(token, kind="refresh")
        jti = claims.get("jti")
        with self._database.begin() as conn:
            row = conn.execute(select(refresh_tokens).where(refresh_tokens.c.jti == jti)
                               .with_for_update()).mappings().first()
            if row is None:
                raise NotAuthenticated("invalid token")
            if row["status"] != RefreshStatus.ACTIVE:
                conn.execute(update(refresh_tokens).where(refresh_tokens.c.family == row["family"])
                             .values(status=RefreshStatus.REVOKED.value))
                replayed = True
            else:
                conn.execute(update(refresh_tokens).where(refresh_tokens.c.jti == jti)
                             .values(status=RefreshStatus.ROTATED.value))
                replayed = False
        if replayed:
            raise NotAuthenticated("refresh token already used: every token of this login is revoked")
        try:
            identity = resolve(parse_scope(row["scope"]), row["user"], self._registry())
        except DiracError:
            raise NotAuthenticated("the user no longer holds this scope") from None
        return self.issue(identity, row["scope"], family=row["family"])

    def revoke(self, token: str) -> str | None:
        """Revoke a refresh token's whole family (logout); None if the token is not ours."""
        try:
            claims = self.claims(token, kind="refresh")
        except NotAuthenticated:
            return None
        with self._database.begin() as conn:
            family = conn.execute(select(refresh_tokens.c.family)
                                  .where(refresh_tokens.c.jti == claims.get("jti"))).scalar()
            if family is None:
                return None
            conn.execute(update(refresh_tokens).where(refresh_tokens.c.family == family)
                         .values(status=RefreshStatus.REVOKED.value))
        return str(claims.get("jti"))


def _pilot_group(registry: Registry, vo: str) -> str:
    """The VO's pilot group: the first (by name) with ``GenericPilot``."""
    for name, group in sorted(registry.groups.items()):
        if group.vo == vo and Property.GENERIC_PILOT in group.properties:
            return name
    raise NotFound(f"VO {vo!r} has no group with GenericPilot", vo=vo)


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

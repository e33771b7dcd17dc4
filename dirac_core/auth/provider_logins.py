"""Logins that happen at an external (redirect) identity provider, and the state they keep.

**Browser** (authorization code + PKCE, as DiracX does it): the client's
request (its redirect URI, its PKCE challenge, its ``state``, the scope) is
checked and kept server-side under a new random ``state`` of ours, with our
own PKCE verifier and nonce for the provider; the browser goes to the
provider. When it comes back to our callback with that state, the row is
spent (one use, whatever happens next), the provider's code is redeemed, the
person mapped to a registry user and group (:mod:`dirac_core.auth.mapping`),
and the client gets OUR one-time code (:class:`~dirac_core.auth.codes.AuthorizationCodes`)
for ITS challenge: a code stolen on either leg is useless alone.

**Device** (relay): the provider's device flow is started; the CLI gets the
provider's user code and verification address, and a device code of ours
(only its hash is stored, with the provider's device code). Each time the CLI
polls our token endpoint the server polls the provider, at most once per the
provider's interval (an atomic claim of ``next_poll``, so replicas and quick
clients never make the provider answer ``slow_down``); otherwise it answers
``authorization_pending``. Nothing is stored when the provider cannot be
reached at the start, and a refusal or success spends the row.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

import attrs
from sqlalchemy import Connection, delete, insert, select, update

from dirac_core.auth.codes import AuthorizationCodes, s256
from dirac_core.auth.device import DeviceFlowError
from dirac_core.auth.mapping import login_identity
from dirac_core.auth.scopes import Scope, parse_scope
from dirac_core.config.auth import AuthSettings
from dirac_core.config.registry import Registry
from dirac_core.db.database import Database
from dirac_core.db.tables.auth import provider_logins
from dirac_core.model.clock import Clock
from dirac_core.model.identity import Identity
from dirac_core.plugins.identity import DevicePending, ProviderRefused, RedirectIdentityProvider

__all__ = ["BrowserReturn", "FlowKind", "ProviderLogins"]

#: how long a browser may take at the provider's pages
_BROWSER_LIFETIME = timedelta(minutes=10)
#: RFC 8628 3.5: a ``slow_down`` adds five seconds to the interval
_SLOW_DOWN = 5
#: how long an expired login is kept (an answer then says "expired", not "unknown")
_KEEP_EXPIRED = timedelta(hours=1)


class FlowKind(enum.StrEnum):
    """Which flow a stored login belongs to."""

    BROWSER = "browser"
    DEVICE = "device"


@attrs.frozen
class BrowserReturn:
    """Where to send the browser back: the client's redirect URI with these parameters."""

    redirect_uri: str
    params: dict[str, str]


def _hash(handle: str) -> str:
    return hashlib.sha256(handle.encode()).hexdigest()


def _check_vo(scope: str, registry: Registry) -> Scope:
    if len(scope) > 1024:
        raise DeviceFlowError("invalid_scope", "the scope is longer than 1024 characters")
    parsed = parse_scope(scope)
    if parsed.vo not in registry.vos:
        raise DeviceFlowError("invalid_scope", f"unknown VO {parsed.vo!r}")
    return parsed


class ProviderLogins:
    """Browser logins and device relays through a :class:`RedirectIdentityProvider`."""

    def __init__(self, *, database: Database, settings: AuthSettings, clock: Clock,
                 provider: RedirectIdentityProvider, codes: AuthorizationCodes) -> None:
        self._database = database
        self._settings = settings
        self._clock = clock
        self.provider = provider
        self._codes = codes

    # -- browser -----------------------------------------------------------------

    def begin_browser(self, *, client_id: str, redirect_uri: str, code_challenge: str,
                      code_challenge_method: str, client_state: str, scope: str, callback: str,
                      registry: Registry) -> str:
        """Keep the client's (checked) request; the provider's login address for the browser.

        ``callback`` is our address the provider sends the browser back to. Raises
        :class:`DeviceFlowError` for a bad request, ``IdentityProviderUnavailable``
        (nothing stored) when the provider cannot be reached.
        """
        self._codes.check_request(client_id, redirect_uri, code_challenge, code_challenge_method)
        _check_vo(scope, registry)
        state, nonce, verifier = (secrets.token_urlsafe(32), secrets.token_urlsafe(32),
                                  secrets.token_urlsafe(48))
        url = self.provider.login_url(state=state, nonce=nonce, code_challenge=s256(verifier),
                                      redirect_uri=callback)
        now = self._clock.now()
        with self._database.begin() as conn:
            _drop_stale(conn, now)
            conn.execute(insert(provider_logins).values(
                login_hash=_hash(state), kind=FlowKind.BROWSER.value, client_id=client_id, scope=scope,
                redirect_uri=redirect_uri, code_challenge=code_challenge, client_state=client_state,
                nonce=nonce, code_verifier=verifier, created=now, expires=now + _BROWSER_LIFETIME))
        return url

    def _spend(self, handle: str, kind: FlowKind) -> dict[str, Any] | None:
        with self._database.begin() as conn:
            row = conn.execute(select(provider_logins).where(
                provider_logins.c.login_hash == _hash(handle), provider_logins.c.kind == kind.value)
                .with_for_update()).mappings().first()
            if row is not None and conn.execute(delete(provider_logins).where(
                    provider_logins.c.login_hash == row["login_hash"])).rowcount != 1:
                row = None  # a concurrent request spent it first
        if row is None or row["expires"] < self._clock.now():
            return None
        return dict(row)

    def finish_browser(self, *, state: str, code: str | None, error: str | None, callback: str,
                       registry: Registry) -> BrowserReturn:
        """Finish a browser login the provider sent back (``code``, or its ``error``).

        Raises :class:`DeviceFlowError` (``invalid_request``) for an unknown, used or
        expired state; ``LoginRefused``/``PermissionDenied`` when the registry gives the
        person nothing; ``NotAuthenticated`` (``InvalidIdToken``) for a bad ID token;
        ``IdentityProviderUnavailable``. A provider error goes back to the client.
        """
        row = self._spend(state, FlowKind.BROWSER)
        if row is None:
            raise DeviceFlowError("invalid_request", "unknown, used or expired login state: start again")
        back: dict[str, str] = {"state": row["client_state"]} if row["client_state"] else {}
        if error or not code:
            return BrowserReturn(row["redirect_uri"], {"error": error or "access_denied", **back})
        try:
            person = self.provider.complete(code=code, code_verifier=row["code_verifier"],
                                            redirect_uri=callback, nonce=row["nonce"])
        except ProviderRefused as exc:
            return BrowserReturn(row["redirect_uri"], {"error": exc.error, **back})
        identity = login_identity(person, parse_scope(row["scope"]), registry, self.provider.rules)
        ours = self._codes.grant(client_id=row["client_id"], redirect_uri=row["redirect_uri"],
                                 challenge=row["code_challenge"], scope=_scope_of(identity, row["scope"]),
                                 user=identity.user, registry=registry)
        return BrowserReturn(row["redirect_uri"], {"code": ours, **back})

    # -- device relay ------------------------------------------------------------------

    def start_device(self, client_id: str, scope: str, registry: Registry) -> dict[str, Any]:
        """Start the provider's device flow for a client; the device endpoint's answer."""
        if len(client_id) > 128:
            raise DeviceFlowError("invalid_client", "the client id is longer than 128 characters")
        _check_vo(scope, registry)
        started = self.provider.start_device()
        device_code = secrets.token_urlsafe(32)
        lifetime = min(started.expires_in, self._settings.device_flow_seconds)
        now = self._clock.now()
        with self._database.begin() as conn:
            _drop_stale(conn, now)
            conn.execute(insert(provider_logins).values(
                login_hash=_hash(device_code), kind=FlowKind.DEVICE.value, client_id=client_id,
                scope=scope, provider_device_code=started.device_code, poll_interval=started.interval,
                next_poll=now, created=now, expires=now + timedelta(seconds=lifetime)))
        return {"user_code": started.user_code, "device_code": device_code,
                "verification_uri": started.verification_uri,
                "verification_uri_complete": started.verification_uri_complete or started.verification_uri,
                "expires_in": lifetime, "interval": started.interval}

    def is_relayed(self, device_code: str) -> bool:
        """True when ``device_code`` names a relayed device flow (else: a built-in one)."""
        with self._database.begin(read_only=True) as conn:
            return conn.execute(select(provider_logins.c.login_hash).where(
                provider_logins.c.login_hash == _hash(device_code),
                provider_logins.c.kind == FlowKind.DEVICE.value)).first() is not None

    def redeem_device(self, device_code: str, client_id: str, registry: Registry) -> tuple[Identity, str]:
        """The identity and scope once the provider says the person approved.

        Raises :class:`DeviceFlowError`: ``authorization_pending`` (also while the
        provider's interval has not passed), ``expired_token``, ``invalid_grant``,
        the provider's refusal (``access_denied``...); ``LoginRefused`` when the
        registry gives the person nothing; ``IdentityProviderUnavailable``.
        """
        key = _hash(device_code)
        now = self._clock.now()
        with self._database.begin() as conn:
            row = conn.execute(select(provider_logins).where(
                provider_logins.c.login_hash == key, provider_logins.c.kind == FlowKind.DEVICE.value))\
                .mappings().first()
            if row is None or row["client_id"] != client_id:
                raise DeviceFlowError("invalid_grant", "unknown or already used device code")
            if row["expires"] < now:
                conn.execute(delete(provider_logins).where(provider_logins.c.login_hash == key))
                raise DeviceFlowError("expired_token", "the device code has expired")
            claimed = conn.execute(update(provider_logins).where(
                provider_logins.c.login_hash == key, provider_logins.c.next_poll <= now)
                .values(next_poll=now + timedelta(seconds=row["poll_interval"]))).rowcount
        if claimed != 1:
            raise DeviceFlowError("authorization_pending", "the user has not approved yet")
        try:
            answer = self.provider.poll_device(row["provider_device_code"])
        except ProviderRefused as exc:
            self._forget(key)
            raise DeviceFlowError(exc.error, str(exc)) from None
        if isinstance(answer, DevicePending):
            if answer.slow_down:
                interval = row["poll_interval"] + _SLOW_DOWN
                with self._database.begin() as conn:
                    conn.execute(update(provider_logins).where(provider_logins.c.login_hash == key).values(
                        poll_interval=interval, next_poll=now + timedelta(seconds=interval)))
            raise DeviceFlowError("authorization_pending", "the user has not approved yet")
        self._forget(key)
        identity = login_identity(answer, parse_scope(row["scope"]), registry, self.provider.rules)
        return identity, _scope_of(identity, row["scope"])

    def _forget(self, key: str) -> None:
        with self._database.begin() as conn:
            conn.execute(delete(provider_logins).where(provider_logins.c.login_hash == key))

    def purge(self, *, older_than: timedelta = _KEEP_EXPIRED) -> int:
        """Delete logins expired more than ``older_than`` ago; return how many."""
        cutoff = self._clock.now() - older_than
        with self._database.begin() as conn:
            return int(conn.execute(delete(provider_logins).where(provider_logins.c.expires < cutoff))
                       .rowcount)


def _drop_stale(conn: Connection, now: datetime) -> None:
    """Forget logins expired for an hour (abandoned ones), as new ones start."""
    conn.execute(delete(provider_logins).where(provider_logins.c.expires < now - _KEEP_EXPIRED))


def _scope_of(identity: Identity, asked: str) -> str:
    """The scope to keep for refreshes: the one asked for, with the group the login got (the
    provider's groups are checked at login, not again at each refresh)."""
    parsed = parse_scope(asked)
    return Scope(parsed.vo, identity.group, parsed.properties).text()

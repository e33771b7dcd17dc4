"""The OAuth device authorization grant (RFC 8628), as DiracX's ``dirac login`` uses it.

The client starts a flow and polls with its device code; the user opens
the verification URL, proves who they are to an identity provider, and the
flow is approved for that user. Only a hash of the device code is stored;
the user code is short and human-typable. A device code is exchanged for
tokens once.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from datetime import timedelta

import attrs
from sqlalchemy import delete, insert, select, update

from dirac_core.auth.scopes import parse_scope, resolve
from dirac_core.config.auth import AuthSettings
from dirac_core.config.registry import Registry
from dirac_core.db.database import Database
from dirac_core.db.tables.auth import device_flows
from dirac_core.errors import DiracError, NotFound
from dirac_core.model.clock import Clock
from dirac_core.model.identity import Identity

__all__ = ["DeviceFlowError", "DeviceFlows", "DeviceStart", "FlowStatus"]

#: Letters that cannot be confused with each other or with digits.
_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"


class FlowStatus(enum.StrEnum):
    """A device flow's state."""

    PENDING = "pending"
    APPROVED = "approved"
    DONE = "done"


class DeviceFlowError(DiracError):
    """An OAuth error of the token endpoint: ``error`` is the RFC 8628 code."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message, error=error)
        self.error = error


@attrs.frozen
class DeviceStart:
    """What the device endpoint returns to the client."""

    user_code: str
    device_code: str
    expires_in: int


def _hash(device_code: str) -> str:
    return hashlib.sha256(device_code.encode()).hexdigest()


class DeviceFlows:
    """Device flows stored in ``auth_device_flows``."""

    def __init__(self, *, database: Database, settings: AuthSettings, clock: Clock) -> None:
        self._database = database
        self._settings = settings
        self._clock = clock

    def start(self, client_id: str, scope: str, registry: Registry) -> DeviceStart:
        """Open a flow; nothing is stored when it is refused: ``InvalidScope`` for a malformed
        scope, :class:`DeviceFlowError` (``invalid_scope``, ``invalid_client``) for an unknown
        VO, a scope over 1024 characters or a client id over 128."""
        if len(scope) > 1024:
            raise DeviceFlowError("invalid_scope", "the scope is longer than 1024 characters")
        if len(client_id) > 128:
            raise DeviceFlowError("invalid_client", "the client id is longer than 128 characters")
        parsed = parse_scope(scope)
        if parsed.vo not in registry.vos:
            raise DeviceFlowError("invalid_scope", f"unknown VO {parsed.vo!r}")
        now = self._clock.now()
        device_code = secrets.token_urlsafe(32)
        user_code = "".join(secrets.choice(_ALPHABET) for _ in range(8))
        lifetime = self._settings.device_flow_seconds
        with self._database.begin() as conn:
            conn.execute(insert(device_flows).values(
                user_code=user_code, device_code_hash=_hash(device_code), client_id=client_id,
                scope=scope, created=now, expires=now + timedelta(seconds=lifetime),
                status=FlowStatus.PENDING.value, user=None))
        return DeviceStart(user_code, device_code, lifetime)

    def scope_of(self, user_code: str) -> str:
        """The scope a pending flow asks for; raises ``NotFound`` for an unknown or stale code."""
        with self._database.begin(read_only=True) as conn:
            row = conn.execute(select(device_flows).where(
                device_flows.c.user_code == user_code.strip().upper())).mappings().first()
        if row is None or row["status"] != FlowStatus.PENDING or row["expires"] < self._clock.now():
            raise NotFound("no pending login with this code", user_code=user_code)
        return str(row["scope"])

    def approve(self, user_code: str, user: str, registry: Registry) -> Identity:
        """Approve a pending flow for ``user`` (authenticated by the caller).

        Raises ``NotFound`` for an unknown, expired or already used code and
        ``PermissionDenied`` when the user may not have the scope asked for.
        """
        code = user_code.strip().upper()
        identity = resolve(parse_scope(self.scope_of(code)), user, registry)
        with self._database.begin() as conn:
            done = conn.execute(update(device_flows).where(
                device_flows.c.user_code == code, device_flows.c.status == FlowStatus.PENDING)
                .values(status=FlowStatus.APPROVED.value, user=user)).rowcount
        if done != 1:
            raise NotFound("no pending login with this code", user_code=user_code)
        return identity

    def redeem(self, device_code: str, client_id: str, registry: Registry) -> tuple[Identity, str]:
        """The identity and scope of an approved flow, once.

        Raises :class:`DeviceFlowError` with ``authorization_pending``,
        ``expired_token`` or ``invalid_grant`` (unknown, used, or another client's code).
        """
        now = self._clock.now()
        with self._database.begin() as conn:
            row = conn.execute(select(device_flows).where(
                device_flows.c.device_code_hash == _hash(device_code))
                .with_for_update()).mappings().first()
            if row is None or row["client_id"] != client_id or row["status"] == FlowStatus.DONE:
                raise DeviceFlowError("invalid_grant", "unknown or already used device code")
            if row["expires"] < now:
                raise DeviceFlowError("expired_token", "the device code has expired")
            if row["status"] == FlowStatus.PENDING:
                raise DeviceFlowError("authorization_pending", "the user has not approved yet")
            conn.execute(update(device_flows).where(device_flows.c.user_code == row["user_code"])
                         .values(status=FlowStatus.DONE.value))
        try:
            identity = resolve(parse_scope(row["scope"]), row["user"], registry)
        except DiracError as exc:
            raise DeviceFlowError("access_denied", str(exc)) from None
        return identity, str(row["scope"])

    def purge(self, *, older_than: timedelta = timedelta(hours=1)) -> int:
        """Delete flows expired more than ``older_than`` ago; return how many."""
        cutoff = self._clock.now() - older_than
        with self._database.begin() as conn:
            return int(conn.execute(delete(device_flows).where(device_flows.c.expires < cutoff))
                       .rowcount)

"""The server side of a proxy login: challenge, chain, signature -> a registry identity -> tokens.

:class:`ProxyLogin` is what ``POST /api/auth/proxy`` calls. The identity is
decided by the registry, never by the certificate alone:

- the user is the registry user whose ``dns`` hold the chain's end-entity DN,
  and whose ``ca`` (when set) is the DN of the CA that issued it;
- the group is the one the proxy's attributes ask for
  (:class:`~dirac_core.auth.x509.attributes.ProxyAttributes`: its ``group``; else
  the group of its VO whose ``voms_role`` is the primary FQAN; else the VO's
  default group); without attributes, the default group of the user's only VO.
  A user outside the VO's default group who is in one group of the VO gets that
  one. The user must be in the group (``PermissionDenied`` otherwise);
- a group with ``GenericPilot`` gets a pilot token bound to a pilot stamp (no
  refresh token); any other group an access and a refresh token.

Access tokens never outlive the proxy; a refresh token follows the server's
``refresh_token_minutes`` (as after any other login), and each refresh checks
the registry again.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from dirac_core.auth.scopes import Scope, resolve
from dirac_core.auth.tokens import TokenService
from dirac_core.auth.x509.attributes import ProxyAttributes
from dirac_core.auth.x509.challenges import ProxyChallenges, signature_valid, signed_message
from dirac_core.auth.x509.proxy import certificates_from_pem
from dirac_core.auth.x509.trust import TrustStore
from dirac_core.auth.x509.verify import ProxyProblem, VerifiedChain, verify_chain
from dirac_core.config.registry import Property, Registry
from dirac_core.config.x509 import X509Settings
from dirac_core.db.database import Database
from dirac_core.errors import InvalidProxy, NotAuthenticated, NotFound, PermissionDenied
from dirac_core.model.clock import Clock
from dirac_core.model.identity import Identity

__all__ = ["ProxyLogin", "choose_scope"]

_STAMP = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def choose_scope(attributes: ProxyAttributes | None, user: str, registry: Registry) -> Scope:
    """The VO and group a proxy of ``user`` asks for (module doc); membership is checked later.

    Raises ``PermissionDenied`` when the attributes name an FQAN no group maps, or when there
    are no attributes and the user is in several VOs (or none).
    """
    if attributes is None:
        vos = sorted({group.vo for group in registry.groups_of(user)})
        if len(vos) != 1:
            raise PermissionDenied(f"the proxy names no VO and user {user!r} is in {len(vos)} VOs: "
                                   "make a proxy with the VO (dirac-core proxy init --vo)", user=user)
        return _default_scope(vos[0], user, registry)
    if attributes.group is not None:
        return Scope(attributes.vo, attributes.group)
    fqan = attributes.primary_fqan
    if fqan is None or fqan == f"/{attributes.vo}":
        return _default_scope(attributes.vo, user, registry)
    mapped = sorted(name for name, group in registry.groups.items()
                    if group.vo == attributes.vo and group.voms_role == fqan)
    mine = [name for name in mapped if user in registry.groups[name].users]
    if not (mine or mapped):
        raise PermissionDenied(f"no group of VO {attributes.vo!r} has the VOMS role {fqan!r}", user=user)
    return Scope(attributes.vo, (mine or mapped)[0])


def _default_scope(vo: str, user: str, registry: Registry) -> Scope:
    """The VO's default group; for a user outside it, their only group of the VO (a pilot's
    proxy owner is often in the pilot group alone)."""
    found = registry.vos.get(vo)
    default = found.default_group if found is not None else None
    if default is not None and user not in registry.groups[default].users:
        mine = [group.name for group in registry.groups_of(user) if group.vo == vo]
        if len(mine) == 1:
            return Scope(vo, mine[0])
    return Scope(vo)


class ProxyLogin:
    """Challenges and logins with X.509 proxy chains; thread-safe.

    The trusted CAs are read from ``settings.ca_dir`` at first use and again
    every ``settings.reload_seconds`` (or given as ``trust``, for tests and
    embedding).
    """

    def __init__(self, *, database: Database, tokens: TokenService, settings: X509Settings,
                 registry: Callable[[], Registry], clock: Clock, trust: TrustStore | None = None) -> None:
        self._tokens = tokens
        self._settings = settings
        self._registry = registry
        self._clock = clock
        self._lock = threading.Lock()
        self._trust = trust
        self._fixed = trust is not None
        self._loaded_at: float | None = None
        self.challenges = ProxyChallenges(database=database, clock=clock,
                                          lifetime=timedelta(seconds=settings.challenge_seconds))

    def trust(self) -> TrustStore:
        """The trusted CAs; raises ``NotFound`` when proxy login is not configured."""
        if self._fixed and self._trust is not None:
            return self._trust
        if self._settings.ca_dir is None:
            raise NotFound("X.509 proxy login is not enabled on this server ([auth] x509.ca_dir)")
        with self._lock:
            now = self._clock.monotonic()
            if self._trust is None or self._loaded_at is None \
                    or now - self._loaded_at >= self._settings.reload_seconds:
                try:
                    self._trust = TrustStore.from_directory(self._settings.ca_dir)
                except OSError as exc:
                    raise NotFound(f"X.509 proxy login: cannot read the CA directory: {exc}") from None
                self._loaded_at = now
            return self._trust

    def challenge(self) -> dict[str, Any]:
        """A new challenge: ``{"challenge": nonce, "expires_in": seconds, "issuer": url}``."""
        self.trust()  # say at once when proxy login is off
        return {"challenge": self.challenges.issue(), "expires_in": self._settings.challenge_seconds,
                "issuer": self._tokens.settings.issuer}

    def verify(self, chain_pem: bytes) -> VerifiedChain:
        """The verified chain of ``chain_pem`` (certificates only, leaf first); raises ``InvalidProxy``."""
        try:
            certs = certificates_from_pem(chain_pem, limit=self._settings.max_chain)
        except ValueError as exc:
            reason = ProxyProblem.TOO_LONG if "more than" in str(exc) else ProxyProblem.MALFORMED
            raise InvalidProxy(f"invalid certificate chain ({reason}): {exc}", reason=reason) from None
        return verify_chain(certs, self.trust(), clock=self._clock, max_chain=self._settings.max_chain)

    def identity(self, verified: VerifiedChain) -> tuple[Identity, Scope]:
        """The registry identity a verified chain stands for (module doc)."""
        registry = self._registry()
        user = registry.user_by_dn(verified.dn)
        if user is None:
            raise NotAuthenticated(f"no registry user has the DN {verified.dn}", dn=verified.dn)
        if user.ca is not None and user.ca != verified.ca_dn:
            raise NotAuthenticated(f"user {user.name!r} is registered with CA {user.ca}, this certificate "
                                   f"was issued by {verified.ca_dn}", dn=verified.dn)
        scope = choose_scope(verified.attributes, user.name, registry)
        return resolve(scope, user.name, registry), scope

    def login(self, *, challenge: str, chain_pem: bytes, signature: bytes,
              pilot_stamp: str | None = None) -> tuple[Identity, dict[str, Any]]:
        """Spend ``challenge``, verify the chain and the signature; the identity and the token
        response (DiracX's shape; a pilot's has no refresh token and names its ``pilot_stamp``).

        Raises ``NotAuthenticated`` (``InvalidProxy`` for the chain or the signature),
        ``PermissionDenied`` for a group the user is not in, or a pilot stamp asked for by a
        group without ``GenericPilot``; ``InvalidScope`` for an unknown VO or group.
        """
        self.challenges.spend(challenge)
        verified = self.verify(chain_pem)
        message = signed_message(self._tokens.settings.issuer, challenge)
        if not signature_valid(verified.leaf, message, signature):
            raise InvalidProxy(f"invalid certificate chain ({ProxyProblem.BAD_SIGNATURE}): the challenge "
                               "was not signed with the key of the proxy presented",
                               reason=ProxyProblem.BAD_SIGNATURE, subject=verified.dn)
        identity, scope = self.identity(verified)
        left = verified.not_after - self._clock.now()
        if identity.has(Property.GENERIC_PILOT):
            return identity, self._pilot_tokens(identity, pilot_stamp, left)
        if pilot_stamp is not None:
            raise PermissionDenied(f"group {identity.group!r} has no GenericPilot: it cannot log in as a "
                                   "pilot", user=identity.user, group=identity.group)
        minutes = _minutes(self._tokens.settings.access_token_minutes, left)
        return identity, self._tokens.issue(identity, scope.text(), access_minutes=minutes).response()

    def _pilot_tokens(self, identity: Identity, stamp: str | None, left: timedelta) -> dict[str, Any]:
        stamp = stamp or f"proxy-{uuid.uuid4().hex[:24]}"
        if not _STAMP.fullmatch(stamp):
            raise PermissionDenied(f"not a pilot stamp: {stamp[:64]!r}", user=identity.user)
        minutes = _minutes(self._tokens.settings.pilot_token_minutes, left)
        pilot = Identity(user=identity.user, group=identity.group, vo=identity.vo,
                         properties={Property.GENERIC_PILOT}, pilot_stamp=stamp)
        # the claims of TokenService.issue_pilot, for this group and user
        claims = self._tokens.access_claims(pilot, self._clock.now(), timedelta(minutes=minutes))
        claims["dirac_pilot"] = stamp
        return {"access_token": self._tokens.sign(claims), "expires_in": minutes * 60,
                "token_type": "Bearer", "pilot_stamp": stamp}


def _minutes(configured: int, left: timedelta) -> int:
    """The token lifetime: the configured one, cut to the proxy's time left (at least a minute)."""
    return max(1, min(configured, int(left.total_seconds() // 60)))

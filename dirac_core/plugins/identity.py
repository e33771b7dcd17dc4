"""The identity-provider contract: who is this person, as the provider knows them.

Drivers are found in the ``dirac.identity_providers`` entry-point group, chosen
by ``[auth.identity_provider] type`` and built as ``cls(registry, settings,
clock=clock)``. There are two kinds, because people log in in two ways:

- a **form** provider (:class:`IdentityProvider`, ``kind = FORM``) checks what
  the person types into the server's own login page (``fields``) and returns
  the registry user name. The built-in ``registry`` provider (password hashes in
  the registry) is one; it serves embedded use and tests.
- a **redirect** provider (:class:`RedirectIdentityProvider`, ``kind = REDIRECT``)
  logs people in on its own pages, as an OpenID provider does (driver ``oidc``).
  The server sends the browser to :meth:`~RedirectIdentityProvider.login_url`
  and, back on its callback, calls :meth:`~RedirectIdentityProvider.complete`;
  for the CLI it relays the provider's own device flow
  (:meth:`~RedirectIdentityProvider.start_device`, then
  :meth:`~RedirectIdentityProvider.poll_device` whenever the CLI polls). These
  return a :class:`ProviderIdentity`: the provider's word, not yet a registry
  user. The core maps it (``dirac_core.auth.mapping``: subject to ``User.sub``,
  provider groups to registry groups through the driver's ``rules``), so that no
  driver can hand out a user or a group the registry does not grant.

State between the steps (PKCE verifier, nonce, the provider's device code) is kept
by the server, never by the driver: drivers are stateless apart from caches.
Network failures are :class:`IdentityProviderUnavailable`; a refusal by the
provider (the person said no, the code expired) is :class:`ProviderRefused`.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import attrs

from dirac_core.config.identity import IdentityProviderSection, MappingRules
from dirac_core.config.registry import Registry
from dirac_core.errors import DiracError, NotAuthenticated
from dirac_core.model.clock import Clock, SystemClock
from dirac_core.plugins.driver import Driver

__all__ = ["DevicePending", "IdentityProvider", "IdentityProviderUnavailable", "LoginKind",
           "ProviderDeviceStart", "ProviderIdentity", "ProviderRefused", "RedirectIdentityProvider"]


class LoginKind(enum.StrEnum):
    """How a person proves who they are: on the server's form, or on the provider's pages."""

    FORM = "form"
    REDIRECT = "redirect"


class IdentityProviderUnavailable(DiracError):
    """The provider cannot be reached, or answered something unusable (``provider`` is its URL)."""


class ProviderRefused(DiracError):
    """The provider refused the login; ``error`` is its OAuth error code (``access_denied``...)."""

    def __init__(self, error: str, message: str) -> None:
        super().__init__(message, error=error)
        self.error = error


@attrs.frozen(kw_only=True)
class ProviderIdentity:
    """A person as a redirect provider proved them: verified claims, subject and groups picked."""

    subject: str
    #: the provider's groups of this person; None when the provider is not asked for groups
    groups: frozenset[str] | None = None
    #: the e-mail address, only when the provider says it is verified
    email: str | None = None
    claims: Mapping[str, Any] = attrs.field(factory=dict, repr=False)


@attrs.frozen(kw_only=True)
class ProviderDeviceStart:
    """The provider's answer to a device authorization request (RFC 8628)."""

    device_code: str
    user_code: str
    verification_uri: str
    verification_uri_complete: str | None
    expires_in: int
    interval: int = 5


@attrs.frozen
class DevicePending:
    """The person has not approved yet; ``slow_down`` when the provider asks to poll less often."""

    slow_down: bool = False


class IdentityProvider(Driver):
    """Proves who a person is; knows nothing of tokens. A form provider by default."""

    kind: ClassVar[LoginKind] = LoginKind.FORM
    #: the credential fields the login form asks for, in order (name -> label)
    fields: Mapping[str, str] = {"username": "User name", "password": "Password"}

    def __init__(self, registry: Callable[[], Registry], settings: IdentityProviderSection | None = None,
                 *, clock: Clock | None = None) -> None:
        self._registry = registry
        self.settings = settings
        self.clock = clock or SystemClock()

    @abc.abstractmethod
    def authenticate(self, credentials: Mapping[str, str]) -> str:
        """The registry user the credentials prove; raises ``NotAuthenticated`` otherwise
        (the message never says which part was wrong)."""


class RedirectIdentityProvider(IdentityProvider):
    """A provider with its own login pages (OpenID Connect and the like)."""

    kind = LoginKind.REDIRECT
    fields: Mapping[str, str] = {}
    #: how its people map to registry users and groups (drivers set it from their settings)
    rules: MappingRules = MappingRules()

    def authenticate(self, credentials: Mapping[str, str]) -> str:
        """Refused: people log in on the provider's pages."""
        raise NotAuthenticated("log in through the identity provider's own page")

    @abc.abstractmethod
    def login_url(self, *, state: str, nonce: str, code_challenge: str, redirect_uri: str) -> str:
        """Where to send the browser (authorization code flow, PKCE S256 ``code_challenge``)."""

    @abc.abstractmethod
    def complete(self, *, code: str, code_verifier: str, redirect_uri: str, nonce: str) -> ProviderIdentity:
        """Redeem the code the provider sent the browser back with; check the proof (``nonce``)."""

    @abc.abstractmethod
    def start_device(self) -> ProviderDeviceStart:
        """Start a device flow at the provider; its user code is what the person types there."""

    @abc.abstractmethod
    def poll_device(self, device_code: str) -> ProviderIdentity | DevicePending:
        """Ask the provider whether the device flow was approved (``ProviderRefused`` if not)."""

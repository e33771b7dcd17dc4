"""The auth engine of an interware: keys, tokens, device flows and the identity provider.

The identity provider is the driver ``[auth.identity_provider] type`` of the
``dirac.identity_providers`` group (default: ``registry``, the registry's
passwords). With a redirect provider (``oidc``), :attr:`AuthManager.logins`
runs the browser logins and device relays through it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from dirac_core.auth.codes import AuthorizationCodes
from dirac_core.auth.device import DeviceFlows
from dirac_core.auth.key_crypto import cipher_for
from dirac_core.auth.keys import KeyStore, verification_grace
from dirac_core.auth.provider_logins import ProviderLogins
from dirac_core.auth.registry_idp import RegistryPasswords
from dirac_core.auth.scopes import Scope, resolve
from dirac_core.auth.tokens import TokenPair, TokenService
from dirac_core.config import Config, Registry
from dirac_core.config.identity import IdentityProviderSection
from dirac_core.db.database import Database
from dirac_core.model.clock import Clock
from dirac_core.model.identity import Identity
from dirac_core.plugins.groups import PluginGroup
from dirac_core.plugins.identity import IdentityProvider, RedirectIdentityProvider
from dirac_core.plugins.loading import load_driver

__all__ = ["AuthManager", "build_provider"]


def build_provider(section: IdentityProviderSection, registry: Callable[[], Registry],
                   clock: Clock) -> IdentityProvider:
    """The identity provider ``section`` configures (``PluginNotFound`` for an unknown type)."""
    if section.type == "registry":  # the default: no entry-point scan
        return RegistryPasswords(registry, section, clock=clock)
    driver = load_driver(PluginGroup.IDENTITY_PROVIDERS, section.type)
    provider: IdentityProvider = driver(registry, section, clock=clock)
    return provider


class AuthManager:
    """Reachable as ``Interware.auth``; the server's auth routes are thin wrappers of it."""

    def __init__(self, *, database: Database, config: Config, clock: Clock,
                 provider: IdentityProvider | None = None) -> None:
        self.config = config
        self.keys = KeyStore(database, clock, cipher=cipher_for(config.auth),
                             grace=verification_grace(config.auth))
        self.tokens = TokenService(database=database, settings=config.auth,
                                   registry=self._registry, clock=clock, keys=self.keys)
        self.device = DeviceFlows(database=database, settings=config.auth, clock=clock)
        self.codes = AuthorizationCodes(database=database, settings=config.auth, clock=clock)
        self.provider = provider or build_provider(config.auth.identity_provider, self._registry, clock)
        #: logins at a redirect provider (OIDC); None with a form provider such as the registry's
        self.logins = (ProviderLogins(database=database, settings=config.auth, clock=clock,
                                      provider=self.provider, codes=self.codes)
                       if isinstance(self.provider, RedirectIdentityProvider) else None)

    def _registry(self) -> Registry:
        return self.config.registry

    def authenticate(self, credentials: Mapping[str, str]) -> str:
        """The registry user proved by ``credentials``; raises ``NotAuthenticated``."""
        return self.provider.authenticate(credentials)

    def redeem_device(self, device_code: str, client_id: str) -> tuple[Identity, str]:
        """The identity and scope of an approved device flow, relayed or built-in (once).

        Raises ``DeviceFlowError`` (``authorization_pending``...), and for a relayed
        flow ``LoginRefused`` or ``IdentityProviderUnavailable``.
        """
        if self.logins is not None and self.logins.is_relayed(device_code):
            return self.logins.redeem_device(device_code, client_id, self.config.registry)
        return self.device.redeem(device_code, client_id, self.config.registry)

    def close(self) -> None:
        """Release the identity provider's connections."""
        self.provider.close()

    def issue(self, user: str, *, vo: str, group: str | None = None,
              properties: frozenset[str] = frozenset(), access_minutes: int | None = None
              ) -> tuple[Identity, TokenPair]:
        """A token pair for a registry user (administrators' ``auth issue-token``, tests).

        Raises ``InvalidScope`` / ``PermissionDenied`` like a login would.
        """
        scope = Scope(vo, group, properties)
        identity = resolve(scope, user, self.config.registry)
        return identity, self.tokens.issue(identity, scope.text(), access_minutes=access_minutes)

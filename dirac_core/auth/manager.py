"""The auth engine of an interware: keys, tokens, device flows and the identity provider."""

from __future__ import annotations

from collections.abc import Mapping

from dirac_core.auth.codes import AuthorizationCodes
from dirac_core.auth.device import DeviceFlows
from dirac_core.auth.keys import KeyStore
from dirac_core.auth.registry_idp import RegistryPasswords
from dirac_core.auth.scopes import Scope, resolve
from dirac_core.auth.tokens import TokenPair, TokenService
from dirac_core.config import Config, Registry
from dirac_core.db.database import Database
from dirac_core.model.clock import Clock
from dirac_core.model.identity import Identity
from dirac_core.plugins.identity import IdentityProvider

__all__ = ["AuthManager"]


class AuthManager:
    """Reachable as ``Interware.auth``; the server's auth routes are thin wrappers of it."""

    def __init__(self, *, database: Database, config: Config, clock: Clock,
                 provider: IdentityProvider | None = None) -> None:
        self.config = config
        self.keys = KeyStore(database, clock)
        self.tokens = TokenService(database=database, settings=config.auth,
                                   registry=self._registry, clock=clock, keys=self.keys)
        self.device = DeviceFlows(database=database, settings=config.auth, clock=clock)
        self.codes = AuthorizationCodes(database=database, settings=config.auth, clock=clock)
        self.provider = provider or RegistryPasswords(self._registry)

    def _registry(self) -> Registry:
        return self.config.registry

    def authenticate(self, credentials: Mapping[str, str]) -> str:
        """The registry user proved by ``credentials``; raises ``NotAuthenticated``."""
        return self.provider.authenticate(credentials)

    def issue(self, user: str, *, vo: str, group: str | None = None,
              properties: frozenset[str] = frozenset(), access_minutes: int | None = None
              ) -> tuple[Identity, TokenPair]:
        """A token pair for a registry user (administrators' ``auth issue-token``, tests).

        Raises ``InvalidScope`` / ``PermissionDenied`` like a login would.
        """
        scope = Scope(vo, group, properties)
        identity = resolve(scope, user, self.config.registry)
        return identity, self.tokens.issue(identity, scope.text(), access_minutes=access_minutes)

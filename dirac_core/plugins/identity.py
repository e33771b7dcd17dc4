"""The identity-provider contract: who is this person, as a registry user name.

Drivers are found in the ``dirac.identity_providers`` entry-point group and
built with the registry they map people to. The built-in ``registry``
provider checks passwords hashed in the registry (embedded and test use);
an OIDC provider maps the provider's subject claim instead.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping

from dirac_core.config.registry import Registry

__all__ = ["IdentityProvider"]


class IdentityProvider(abc.ABC):
    """Proves who a person is; knows nothing of groups or tokens."""

    def __init__(self, registry: Callable[[], Registry]) -> None:
        self._registry = registry

    #: the credential fields the login form asks for, in order (name -> label)
    fields: Mapping[str, str] = {"username": "User name", "password": "Password"}

    @abc.abstractmethod
    def authenticate(self, credentials: Mapping[str, str]) -> str:
        """The registry user the credentials prove; raises ``NotAuthenticated`` otherwise
        (the message never says which part was wrong)."""

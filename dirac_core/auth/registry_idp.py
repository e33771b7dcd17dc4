"""The built-in identity provider: user names and password hashes from the registry."""

from __future__ import annotations

from collections.abc import Mapping

from dirac_core.auth.passwords import verify_password
from dirac_core.errors import NotAuthenticated
from dirac_core.plugins.identity import IdentityProvider

__all__ = ["RegistryPasswords"]


class RegistryPasswords(IdentityProvider):
    """``username`` + ``password`` checked against ``User.password_hash``."""

    def authenticate(self, credentials: Mapping[str, str]) -> str:
        """The user name when the password matches its stored hash."""
        name = credentials.get("username", "").strip()
        user = self._registry().users.get(name)
        if user is None or not verify_password(credentials.get("password", ""), user.password_hash):
            raise NotAuthenticated("wrong user name or password")
        return name

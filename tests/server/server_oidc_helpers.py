"""The server tests' grid with an OpenID provider as identity provider, and a browser's login."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import attrs
import httpx
from server_helpers import server_config

from dirac_core.auth.codes import s256
from dirac_core.config import Config
from dirac_core.config.identity import OidcIdentityProvider
from dirac_core.testing.oidc import OidcServer, RegisteredClient
from dirac_server.routes.auth_provider import CALLBACK_PATH

#: the web portal (our OAuth client) the browser flow returns to
PORTAL = "https://portal.example.org/callback"
CLIENT_ID = "myDIRACClientID"


def subjects(*users: str) -> dict[str, str]:
    """A subject of this test only for each registry user (the provider is shared by the session)."""
    tag = uuid.uuid4().hex[:8]
    return {user: f"{user}-{tag}" for user in users}


def oidc_config(db_url: str, *, server_url: str, issuer: str, client: RegisteredClient,
                subs: dict[str, str], **options: Any) -> Config:
    """The test grid on ``db_url`` served at ``server_url``, people logging in at the provider
    ``issuer``: registry users get the subjects ``subs``; ``options`` go to the ``oidc`` section."""
    base = server_config(db_url, issuer=server_url)
    users = {name: attrs.evolve(user, sub=subs.get(name, user.sub))
             for name, user in base.registry.users.items()}
    section = OidcIdentityProvider(issuer=issuer, client_id=client.client_id,
                                   client_secret=client.client_secret, scopes=("openid", "email", "groups"),
                                   groups_claim="groups", **options)
    auth = attrs.evolve(base.auth, identity_provider=section, allowed_redirects=(PORTAL,))
    return attrs.evolve(base, registry=attrs.evolve(base.registry, users=users), auth=auth)


def register(provider: OidcServer, server_url: str) -> RegisteredClient:
    """Our server as a client of ``provider``, with its callback as redirect URI."""
    return provider.register_client([f"{server_url}{CALLBACK_PATH}"])


def authorize_params(verifier: str, scope: str = "vo:demo", state: str = "portal-state") -> dict[str, str]:
    """The portal's authorization request (PKCE S256 with ``verifier``)."""
    return {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": PORTAL, "scope": scope,
            "code_challenge": s256(verifier), "code_challenge_method": "S256", "state": state}


def token_request(code: str, verifier: str) -> dict[str, str]:
    """The portal's exchange of our code."""
    return {"grant_type": "authorization_code", "code": code, "client_id": CLIENT_ID,
            "redirect_uri": PORTAL, "code_verifier": verifier}


def new_verifier() -> str:
    """A PKCE verifier."""
    return secrets.token_urlsafe(48)


def query(url: str) -> dict[str, str]:
    """The query parameters of ``url``."""
    return dict(httpx.URL(url).params)

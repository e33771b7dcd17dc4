"""Tables of the ``auth`` system: signing keys, device flows, refresh tokens, proxy-login challenges,
logins in progress at an identity provider.

Everything the token service needs lives here, so that several server
replicas on one database issue and accept the same tokens. Secrets are not
stored in the clear: a device flow is found by the SHA-256 of its device
code, a refresh token by its ``jti`` (the token itself is never stored).
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, String, Table, Text

from dirac_core.db.schema import new_metadata
from dirac_core.db.types import UTCDateTime

__all__ = ["authorization_codes", "device_flows", "metadata", "provider_logins", "proxy_challenges",
           "refresh_tokens", "signing_keys"]

metadata = new_metadata("auth")

#: The server's JWT signing keys; the newest unretired one signs, all verify until dropped.
signing_keys = Table(
    "auth_signing_keys",
    metadata,
    Column("kid", String(64), primary_key=True),
    Column("algorithm", String(16), nullable=False),
    Column("private_jwk", Text(), nullable=False),
    Column("created", UTCDateTime(), nullable=False),
    Column("retired", UTCDateTime(), nullable=True),
)

#: OAuth device authorization grants (RFC 8628) waiting for, or given, approval.
device_flows = Table(
    "auth_device_flows",
    metadata,
    Column("user_code", String(16), primary_key=True),
    Column("device_code_hash", String(64), nullable=False, unique=True),
    Column("client_id", String(128), nullable=False),
    Column("scope", String(1024), nullable=False),
    Column("created", UTCDateTime(), nullable=False),
    Column("expires", UTCDateTime(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("user", String(64), nullable=True),
    Index(None, "expires"),
)

#: Refresh tokens issued, by jti; one ``family`` per login (rotation keeps the family).
refresh_tokens = Table(
    "auth_refresh_tokens",
    metadata,
    Column("jti", String(64), primary_key=True),
    Column("family", String(64), nullable=False),
    Column("user", String(64), nullable=False),
    Column("vo", String(64), nullable=False),
    Column("owner_group", String(64), nullable=False),
    Column("scope", String(1024), nullable=False),
    Column("issued", UTCDateTime(), nullable=False),
    Column("expires", UTCDateTime(), nullable=False),
    Column("status", String(16), nullable=False),
    Index(None, "family"),
    Index(None, "user"),
    Index(None, "expires"),
)

#: Authorization codes (OAuth code flow with PKCE), by the SHA-256 of the code; used once.
authorization_codes = Table(
    "auth_authorization_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("client_id", String(128), nullable=False),
    Column("redirect_uri", String(1024), nullable=False),
    Column("code_challenge", String(128), nullable=False),
    Column("scope", String(1024), nullable=False),
    Column("user", String(64), nullable=False),
    Column("expires", UTCDateTime(), nullable=False),
    Index(None, "expires"),
)

#: Challenges of X.509 proxy logins, by the SHA-256 of the nonce; each answered at most once.
proxy_challenges = Table(
    "auth_proxy_challenges",
    metadata,
    Column("nonce_hash", String(64), primary_key=True),
    Column("created", UTCDateTime(), nullable=False),
    Column("expires", UTCDateTime(), nullable=False),
    Index(None, "expires"),
)

#: Logins in progress at an external identity provider, by the SHA-256 of the handle the outside
#: holds: the ``state`` sent to the provider (browser) or the device code given to the CLI (device
#: relay). Browser rows keep the client's request (redirect URI, PKCE challenge, state) and our own
#: PKCE verifier and nonce; device rows the provider's device code and when to poll it next.
provider_logins = Table(
    "auth_provider_logins",
    metadata,
    Column("login_hash", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("client_id", String(128), nullable=False),
    Column("scope", String(1024), nullable=False),
    Column("redirect_uri", String(1024), nullable=True),
    Column("code_challenge", String(128), nullable=True),
    Column("client_state", String(1024), nullable=True),
    Column("nonce", String(128), nullable=True),
    Column("code_verifier", String(128), nullable=True),
    Column("provider_device_code", String(1024), nullable=True),
    Column("poll_interval", Integer(), nullable=True),
    Column("next_poll", UTCDateTime(), nullable=True),
    Column("created", UTCDateTime(), nullable=False),
    Column("expires", UTCDateTime(), nullable=False),
    Index(None, "expires"),
)

"""Tables of the ``auth`` system: signing keys, device flows, refresh tokens.

Everything the token service needs lives here, so that several server
replicas on one database issue and accept the same tokens. Secrets are not
stored in the clear: a device flow is found by the SHA-256 of its device
code, a refresh token by its ``jti`` (the token itself is never stored).
"""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table, Text

from dirac_core.db.schema import new_metadata
from dirac_core.db.types import UTCDateTime

__all__ = ["authorization_codes", "device_flows", "metadata", "refresh_tokens", "signing_keys"]

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

"""Shared values of the auth tests: a registry with passwords, and JWT forging tools."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any

from dirac_core.auth import hash_password
from dirac_core.config import Config, load_config

#: passwords of the registry users (carol has no password hash at all)
PASSWORDS = {"alice": "alice-s3cret", "bob": "bob-s3cret", "admin": "admin-s3cret"}
HASHES = {name: hash_password(pw, iterations=1000) for name, pw in PASSWORDS.items()}

ISSUER = "https://dirac.example.org/auth"
ACCESS_MINUTES = 15
REFRESH_MINUTES = 90
DEVICE_SECONDS = 300
CLIENT = "myDIRACClientID"

ADMIN_PROPS = ("JobAdministrator", "NormalUser", "Operator")


def _toml_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(f'"{value}"' for value in values) + "]"


def make_config(*, demo_user: Iterable[str] = ("alice", "bob", "carol"),
                admin_props: Iterable[str] = ADMIN_PROPS,
                hashes: dict[str, str] | None = None) -> Config:
    """The test grid: VO ``demo`` (default group ``demo_user``) and VO ``other`` (no default).

    ``demo_user`` lists the members of ``demo_user``, ``admin_props`` the
    properties of ``demo_admin``; ``hashes`` replaces the users' password hashes.
    """
    hashes = HASHES if hashes is None else hashes
    users = "\n".join(
        f'[registry.users.{name}]\nname = "{name}"\n'
        + (f'password_hash = "{hashes[name]}"\n' if name in hashes else "")
        for name in ("alice", "bob", "carol", "admin"))
    text = f"""
[auth]
issuer = "{ISSUER}"
access_token_minutes = {ACCESS_MINUTES}
refresh_token_minutes = {REFRESH_MINUTES}
device_flow_seconds = {DEVICE_SECONDS}
client_ids = ["{CLIENT}"]

[registry.vos.demo]
name = "demo"
default_group = "demo_user"

[registry.vos.other]
name = "other"

{users}

[registry.groups.demo_user]
name = "demo_user"
vo = "demo"
users = {_toml_list(demo_user)}
properties = ["NormalUser"]

[registry.groups.demo_admin]
name = "demo_admin"
vo = "demo"
users = ["admin"]
properties = {_toml_list(admin_props)}

[registry.groups.other_b]
name = "other_b"
vo = "other"
users = ["alice"]
properties = ["NormalUser"]

[registry.groups.other_c]
name = "other_c"
vo = "other"
users = ["alice", "bob"]
properties = ["NormalUser", "ProductionManagement"]
"""
    return load_config(text, format="toml")


def b64(data: bytes) -> str:
    """Unpadded base64url, as in a JWT."""
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    """The inverse of :func:`b64`."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """The decoded header and payload of ``token`` (unverified) and its signature part."""
    header, payload, signature = token.split(".")
    return json.loads(unb64(header)), json.loads(unb64(payload)), signature


def compact(header: dict[str, Any], payload: dict[str, Any], signature: str = "") -> str:
    """A JWT with the given parts (the signature is used as given, not computed)."""
    return ".".join((b64(json.dumps(header).encode()), b64(json.dumps(payload).encode()), signature))

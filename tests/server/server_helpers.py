"""The server tests' grid: the WMS test grid plus passwords, and an app around it."""

from __future__ import annotations

from typing import Any

from wms_helpers import GRID

from dirac_core.auth.passwords import hash_password
from dirac_core.config import Config, load_config

#: every user's password in the tests (hashed with few iterations: the tests stay fast)
PASSWORD = "s3cret-Pass"
_HASH = hash_password(PASSWORD, iterations=1000)


def server_config(url: str, issuer: str = "http://testserver", **auth: Any) -> Config:
    """The test grid on ``url``, every user with :data:`PASSWORD`, tokens issued by ``issuer``."""
    text = GRID
    for user in ("alice", "bob", "carol", "pilot", "admin"):
        text = text.replace(f'[registry.users.{user}]\nname = "{user}"',
                            f'[registry.users.{user}]\nname = "{user}"\npassword_hash = "{_HASH}"')
    extra = "".join(f"{key} = {value!r}\n" if isinstance(value, str) else f"{key} = {value}\n"
                    for key, value in auth.items())
    text += f'\n[database]\nurl = "{url}"\n\n[auth]\nissuer = "{issuer}"\n{extra}'
    return load_config(text, format="toml")

"""The security suite's grid (the WMS grid, passwords, a file catalog) and small HTTP helpers."""

from __future__ import annotations

from typing import Any

import httpx
from wms_helpers import GRID

from dirac_core.auth.passwords import hash_password
from dirac_core.config import Config, load_config

#: every user's password (few PBKDF2 iterations: the tests stay fast)
PASSWORD = "correct-horse-Battery-9"
#: the password an attacker tries
WRONG_PASSWORD = "Tr0ub4dor&3-guess"
#: the secret the signing keys are encrypted with
KEY_SECRET = "key-encryption-S3CRET-0123456789abcdef"
CLIENT = "myDIRACClientID"
ISSUER = "http://testserver"
#: the redirect URI registered for the authorization-code flow
REDIRECT = "http://app.example/callback"
JDL = '[Executable = "/bin/echo"; Arguments = "hi"; JobName = "probe";]'
_HASH = hash_password(PASSWORD, iterations=1000)

_CATALOG = """
[registry.groups.demo_catalog]
name = "demo_catalog"
vo = "demo"
users = ["admin"]
properties = ["NormalUser", "FileCatalogManagement"]

[resources.catalogs.DFC]
type = "sql"
name = "DFC"
master = true
options = {default_mode = "755"}
"""


def sec_config(url: str, *, issuer: str = ISSUER, secret: str | None = KEY_SECRET,
               secret_file: str | None = None, catalog: bool = True) -> Config:
    """The grid on the database ``url`` with every user's password :data:`PASSWORD`, a file
    catalog (unless not ``catalog``), tokens issued by ``issuer`` and the signing keys
    encrypted with ``secret`` (or the secret in ``secret_file``)."""
    text = GRID + (_CATALOG if catalog else "")
    for user in ("alice", "bob", "carol", "pilot", "admin"):
        text = text.replace(f'[registry.users.{user}]\nname = "{user}"',
                            f'[registry.users.{user}]\nname = "{user}"\npassword_hash = "{_HASH}"')
    auth = f'issuer = "{issuer}"\nallowed_redirects = ["{REDIRECT}"]\n'
    if secret is not None:
        auth += f'key_encryption_secret = "{secret}"\n'
    if secret_file is not None:
        auth += f'key_encryption_secret_file = "{secret_file}"\n'
    return load_config(f'{text}\n[database]\nurl = "{url}"\n\n[auth]\n{auth}', format="toml")


def device_login(client: httpx.Client, user: str = "alice", *, scope: str = "vo:demo",
                 password: str = PASSWORD) -> dict[str, Any]:
    """A login through the built-in device flow, as DiracX's CLI and a browser do it: the
    token response (``access_token``, ``refresh_token``...) and the ``device_code`` used."""
    flow = client.post("/api/auth/device", params={"client_id": CLIENT, "scope": scope})
    assert flow.status_code == 200, flow.text
    started = flow.json()
    page = client.get("/api/auth/device", params={"user_code": started["user_code"]})
    assert page.status_code == 200, page.text
    approved = client.post("/api/auth/device/approve", data={
        "user_code": started["user_code"], "username": user, "password": password})
    assert approved.status_code == 200, approved.text
    tokens = client.post("/api/auth/token", data={
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        "device_code": started["device_code"], "client_id": CLIENT})
    assert tokens.status_code == 200, tokens.text
    return {**tokens.json(), "device_code": started["device_code"], "user_code": started["user_code"]}


def bearer(token: str) -> dict[str, str]:
    """The ``Authorization`` header of ``token``."""
    return {"Authorization": f"Bearer {token}"}


def refresh(client: httpx.Client, token: str) -> Any:
    """``POST /api/auth/token`` with ``grant_type=refresh_token``: the raw answer."""
    return client.post("/api/auth/token", data={"grant_type": "refresh_token", "refresh_token": token,
                                                "client_id": CLIENT})

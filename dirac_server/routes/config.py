"""``/api/config/``: the configuration as JSON, without secrets, with an ETag.

Anyone signed in reads it (``config.read``); its secrets (password hashes, the identity
provider's client secret, the database password) are taken out, unless the caller asks for them
with ``?include_secrets=true`` and may read them (``config.read_secrets``: ``CSAdministrator``;
anyone else gets 403).
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Response

from dirac_core.authorization import Action, require
from dirac_core.config import unstructure_config
from dirac_core.config.database import hide_password
from dirac_server.deps import Caller, Iw

router = APIRouter(prefix="/api/config", tags=["config"])


def public_config(iw: Iw) -> dict[str, Any]:
    """The configuration with password hashes, the identity provider's client secret and database
    passwords taken out."""
    data: dict[str, Any] = unstructure_config(iw.config)
    for user in data.get("registry", {}).get("users", {}).values():
        user.pop("password_hash", None)
    data.get("auth", {}).get("identity_provider", {}).pop("client_secret", None)
    database = data.get("database", {})
    if "url" in database:
        database["url"] = hide_password(database["url"])
    return data


@router.get("/")
def get_config(iw: Iw, identity: Caller,
               if_none_match: Annotated[str | None, Header()] = None,
               include_secrets: bool = False) -> Response:
    """The whole configuration; 304 when the client's ``If-None-Match`` is current."""
    require(identity, Action.CONFIG_READ)
    if include_secrets:
        require(identity, Action.CONFIG_READ_SECRETS)
    data = unstructure_config(iw.config) if include_secrets else public_config(iw)
    body = json.dumps(data, sort_keys=True, default=str)
    etag = f'"{hashlib.sha256(body.encode()).hexdigest()[:32]}"'
    headers = {"ETag": etag, **({"Cache-Control": "no-store"} if include_secrets else {})}
    if if_none_match == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)

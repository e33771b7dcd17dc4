"""``/api/config/``: the configuration as JSON, without secrets, with an ETag."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Response

from dirac_core.config import unstructure_config
from dirac_core.config.database import hide_password
from dirac_server.deps import Caller, Iw

router = APIRouter(prefix="/api/config", tags=["config"])


def public_config(iw: Iw) -> dict[str, Any]:
    """The configuration with password hashes and database passwords taken out."""
    data: dict[str, Any] = unstructure_config(iw.config)
    for user in data.get("registry", {}).get("users", {}).values():
        user.pop("password_hash", None)
    database = data.get("database", {})
    if "url" in database:
        database["url"] = hide_password(database["url"])
    return data


@router.get("/")
def get_config(iw: Iw, identity: Caller,
               if_none_match: Annotated[str | None, Header()] = None) -> Response:
    """The whole configuration; 304 when the client's ``If-None-Match`` is current."""
    body = json.dumps(public_config(iw), sort_keys=True, default=str)
    etag = f'"{hashlib.sha256(body.encode()).hexdigest()[:32]}"'
    if if_none_match == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(body, media_type="application/json", headers={"ETag": etag})

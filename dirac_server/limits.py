"""Refuse request bodies over the configured size with 413, before reading them whole, and URLs
carrying a NUL character with 400 (no database stores one: PostgreSQL refuses it with an error)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_to_bytes

from fastapi import HTTPException

__all__ = ["MAX_ID", "MAX_PAGE", "BodySizeLimit"]


class BodySizeLimit:
    """ASGI middleware: a declared or streamed body over ``limit`` bytes gets 413 (``paths``: other
    limits for some exact paths, the sandbox upload's)."""

    def __init__(self, app: Any, limit: int, paths: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.limit = limit
        self.paths = dict(paths or {})

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if b"\x00" in unquote_to_bytes(scope.get("query_string", b"")) or "\x00" in scope.get("path", ""):
            await _refuse(send, 400, "a NUL character in the URL")
            return
        limit = self.paths.get(scope.get("path", ""), self.limit)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(send, limit)
            return
        seen = 0
        responded = False

        async def counted() -> dict[str, Any]:
            nonlocal seen
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge(limit)
            return message

        async def tracked(message: dict[str, Any]) -> None:
            nonlocal responded
            responded = True
            await send(message)

        try:
            await self.app(scope, counted, tracked)
        except _TooLarge:
            if not responded:
                await _too_large(send, limit)


class _TooLarge(HTTPException):
    """Raised by ``receive``: an HTTP exception, since FastAPI turns any other error met while
    reading a body into a 400 ("There was an error parsing the body")."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over {limit} bytes")


async def _too_large(send: Any, limit: int) -> None:
    await _refuse(send, 413, f"request body over {limit} bytes")


async def _refuse(send: Any, status: int, detail: str) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


#: the highest page number a search takes: (page - 1) * per_page must stay a 64-bit offset on every
#: backend (past it SQLite raises OverflowError, MariaDB and PostgreSQL a data error: a 500)
MAX_PAGE = 10**9
#: the highest id a path or body may name (a BIGINT; larger numbers are no id of anything)
MAX_ID = 2**63 - 1

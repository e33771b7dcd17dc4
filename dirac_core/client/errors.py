"""HTTP answers turned back into the library's exceptions.

The server maps each :class:`~dirac_core.errors.DiracError` to a status code
(``dirac_server.errors``); this is the inverse, so code catching
``NotFound`` or ``JDLError`` works the same against an embedded interware
and a remote one. What has no library counterpart is a :class:`RemoteError`.
"""

from __future__ import annotations

from typing import Any

import httpx

from dirac_core.errors import (
    DatabaseUnavailable,
    DiracError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
)

__all__ = ["RemoteError", "ServerUnreachable", "detail_of", "error_for"]


class RemoteError(DiracError):
    """The server answered with an error the library has no exception for; ``status`` is its code."""

    status: int | None


class ServerUnreachable(RemoteError):
    """No answer from the server (connection refused, timeout, ...) after ``attempts`` tries.

    ``status`` is None.
    """

    attempts: int


_BY_STATUS: dict[int, type[DiracError]] = {
    401: NotAuthenticated, 403: PermissionDenied, 404: NotFound,
}


def detail_of(response: httpx.Response) -> Any:
    """The ``detail`` of a JSON error body, else the body's text (at most 500 characters)."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(body, dict) and "detail" in body:
        return body["detail"]
    return body


def _validation(detail: list[Any]) -> tuple[str, str | None]:
    """FastAPI's 422 detail as one sentence, and the first field it names (``body.job_ids``)."""
    parts, first = [], None
    for item in detail:
        if not isinstance(item, dict):
            parts.append(str(item))
            continue
        field = ".".join(str(p) for p in item.get("loc", ()))
        first = first or field
        parts.append(f"{field}: {item.get('msg', 'invalid')}")
    return "; ".join(parts), first


def error_for(response: httpx.Response, bad_request: type[DiracError] = DiracError) -> DiracError:
    """The exception for an error answer; 400 and 422 raise ``bad_request`` (the route's own error).

    401 ``NotAuthenticated``, 403 ``PermissionDenied``, 404 ``NotFound``, 503
    ``DatabaseUnavailable`` when the server says its database is down, else
    :class:`RemoteError`. Every exception carries ``status`` (the HTTP code).
    """
    status = response.status_code
    detail = detail_of(response)
    fields: dict[str, Any] = {"status": status}
    if status == 422 and isinstance(detail, list):
        text, field = _validation(detail)
        return bad_request(f"invalid request: {text}", field=field, **fields)
    text = detail if isinstance(detail, str) else str(detail)
    if status == 400:
        return bad_request(text or "bad request", **fields)
    if status in _BY_STATUS:
        return _BY_STATUS[status](text or response.reason_phrase, **fields)
    if status == 503 and "database" in text:
        return DatabaseUnavailable(f"the server's database is unavailable ({response.url.host})",
                                   **fields)
    return RemoteError(f"HTTP {status} from {response.request.method} {response.url.path}: "
                       f"{text or response.reason_phrase}", **fields)

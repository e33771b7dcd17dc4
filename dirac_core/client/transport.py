"""The HTTP side of the remote client: base URL, bearer token, retries, errors.

Retries, with exponential back-off (:class:`RetryPolicy`), happen only when
a repeat cannot do harm:

- a connection that could not be made (``ConnectError``, connect or pool
  timeout): the request was never sent, so any request is tried again;
- for idempotent requests (reads, kill, delete) also a timeout or a dropped
  connection after sending, and a 502, 503 or 504 answer.

A 4xx is never retried. Submission, matching, status updates, heartbeats,
rescheduling and token refreshes are not idempotent: a repeat after the
server may have acted would submit twice, lose a claimed job or a Kill
command, or spend a rotated refresh token (which revokes the login). A 401
is followed by one refresh of a credentials file's token and one repeat:
the server refuses an unauthenticated request before acting on it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from typing import Any

import attrs
import httpx
from attrs import validators as v

from dirac_core.client.credentials import Credentials
from dirac_core.client.errors import ServerUnreachable, detail_of, error_for
from dirac_core.errors import DiracError, NotAuthenticated

__all__ = ["RetryPolicy", "Transport"]

#: Failures that happen before the request leaves: safe to repeat any request.
NOT_SENT: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: Failures after which an idempotent request may be repeated.
TRANSIENT: tuple[type[Exception], ...] = (httpx.TimeoutException, httpx.NetworkError,
                                          httpx.RemoteProtocolError)
#: Answers after which an idempotent request may be repeated.
RETRY_STATUSES = frozenset({502, 503, 504})


@attrs.frozen(kw_only=True)
class RetryPolicy:
    """``attempts`` tries at most; the n-th retry waits ``min(max_delay, backoff * 2**(n-1))`` s."""

    attempts: int = attrs.field(default=4, validator=v.ge(1))
    backoff: float = attrs.field(default=0.5, validator=v.ge(0))
    max_delay: float = attrs.field(default=8.0, validator=v.ge(0))

    def delay(self, retry: int) -> float:
        """Seconds to wait before the ``retry``-th retry (1-based)."""
        return float(min(self.max_delay, self.backoff * 2 ** (retry - 1)))


class Transport:
    """An ``httpx.Client`` on the server's base URL that sends the bearer token; thread-safe.

    ``sleep`` waits between retries (tests pass one that records the delays);
    ``transport`` replaces httpx's network transport (tests, proxies).
    """

    def __init__(self, url: str, *, credentials: Credentials | None = None,
                 retry: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep,
                 timeout: float = 30.0, transport: httpx.BaseTransport | None = None,
                 client_id: str = "myDIRACClientID") -> None:
        self.url = url.rstrip("/")
        self.credentials = credentials or Credentials()
        self.retry = retry or RetryPolicy()
        self.client_id = client_id
        self._sleep = sleep
        self._client = httpx.Client(base_url=self.url, timeout=timeout, transport=transport,
                                    headers={"Accept": "application/json"})

    def request(self, method: str, path: str, *, idempotent: bool,
                bad_request: type[DiracError] = DiracError, accept: Collection[int] = (),
                **kwargs: Any) -> httpx.Response:
        """Send a request (``json``, ``params``, ``data``, ``headers`` as httpx takes them); the answer.

        2xx answers and the statuses in ``accept`` are returned; any other
        raises (:func:`~dirac_core.client.errors.error_for`; ``bad_request`` for
        400 and 422), or :class:`ServerUnreachable` when the retries are spent.
        """
        if self.credentials.expired() and self.credentials.refreshable:
            self.refresh(stale=self.credentials.access_token)
        extra = kwargs.pop("headers", None) or {}
        refreshed = False
        while True:
            response = self._send(method, path, idempotent, {**extra, **self.credentials.headers()}, kwargs)
            if response.status_code == 401 and not refreshed and self.credentials.refreshable:
                refreshed = True
                self.refresh(stale=self.credentials.access_token)
                continue
            if response.is_success or response.status_code in accept:
                return response
            raise error_for(response, bad_request)

    def _send(self, method: str, path: str, idempotent: bool, headers: Mapping[str, str],
              kwargs: Mapping[str, Any]) -> httpx.Response:
        """One request, tried again as the policy allows."""
        attempt = 1
        while True:
            try:
                response = self._client.request(method, path, headers=headers, **kwargs)
            except httpx.TransportError as exc:
                retry = isinstance(exc, NOT_SENT) or (idempotent and isinstance(exc, TRANSIENT))
                if not retry or attempt >= self.retry.attempts:
                    raise ServerUnreachable(f"{method} {self.url}{path}: {type(exc).__name__}: {exc}",
                                            status=None, attempts=attempt) from exc
            else:
                if not (idempotent and response.status_code in RETRY_STATUSES
                        and attempt < self.retry.attempts):
                    return response
                response.close()
            self._sleep(self.retry.delay(attempt))
            attempt += 1

    def refresh(self, stale: str | None = None) -> None:
        """Exchange the credentials file's refresh token for a new pair, and rewrite the file.

        ``stale`` is the access token found expired or refused. The file is
        read first: when another process has refreshed it meanwhile (a token
        other than ``stale``, not expired), that one is used. Raises
        ``NotAuthenticated`` when the server refuses the refresh token.
        """
        creds = self.credentials
        with creds.lock:
            creds.reload()
            if not creds.expired() and creds.access_token != stale:
                return
            if creds.refresh_token is None:
                raise NotAuthenticated("the access token expired and there is no refresh token")
            form = {"grant_type": "refresh_token", "refresh_token": creds.refresh_token,
                    "client_id": self.client_id}
            answer = self._send("POST", "/api/auth/token", False, {}, {"data": form})
            if answer.status_code in (400, 401):
                raise NotAuthenticated(f"the refresh token was refused: {detail_of(answer)}",
                                       status=answer.status_code)
            if not answer.is_success:
                raise error_for(answer)
            creds.store(answer.json())

    def close(self) -> None:
        """Close the connections."""
        self._client.close()

"""A small client of the A-REX REST interface 1.0, over httpx.

Only the calls a pilot submitter needs: create jobs, upload a session file,
bulk status and kill, the job list, ``diagnose/*``, session files and the
GLUE2 information. It hides two quirks of A-REX's JSON: an element that
occurs once is an object, several are a list (``{"job": {...}}`` vs
``{"job": [...]}``), and an empty answer is an empty body.

Errors are translated here, at the boundary: a connection failure or
timeout raises :class:`~dirac_core.errors.CEUnreachable` naming the URL; a
failed TLS handshake (untrusted server, refused client certificate) and an
HTTP error status raise :class:`~dirac_core.errors.CEError` with ``url`` and,
for HTTP, ``status`` and a ``body`` excerpt.
"""

from __future__ import annotations

import ssl
from collections.abc import Generator, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
from attrs import frozen

from dirac_core.errors import CEError, CEUnreachable

__all__ = ["BULK_CHUNK", "ArcRestClient", "BearerTokenFile", "JobAnswer", "as_list"]

#: job ids per bulk status or kill request
BULK_CHUNK = 100
_EXCERPT = 300


def as_list(value: Any) -> list[Any]:
    """A-REX's "one is an object, several are a list" rendering, as a list."""
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


@frozen(kw_only=True)
class JobAnswer:
    """A-REX's answer about one job in a bulk call: HTTP-like code, reason, id, state."""

    code: int
    reason: str
    id: str | None = None
    state: str | None = None

    @classmethod
    def from_json(cls, item: dict[str, Any]) -> JobAnswer:
        """Read one entry of a ``{"job": ...}`` answer; a missing code counts as 500."""
        try:
            code = int(item.get("status-code", 500))
        except (TypeError, ValueError):
            code = 500
        return cls(code=code, reason=str(item.get("reason", "")),
                   id=item.get("id") or None, state=item.get("state") or None)


class BearerTokenFile(httpx.Auth):
    """Sends ``Authorization: Bearer <token>`` with the token read from a file at each request.

    Reading per request picks up a token that something else renews on
    disk. Raises :class:`CEError` (with ``token_file``) when the file cannot be
    read or is empty.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        try:
            token = self.path.read_text().strip()
        except OSError as exc:
            raise CEError(f"cannot read the token file {self.path}: {exc.strerror}",
                          token_file=str(self.path)) from exc
        if not token:
            raise CEError(f"the token file {self.path} is empty", token_file=str(self.path))
        request.headers["Authorization"] = f"Bearer {token}"
        yield request


def _chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _is_tls_error(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class ArcRestClient:
    """Calls on one A-REX's REST interface (``<service url>/rest/1.0``).

    ``verify`` is the SSL context (client certificate and trusted CAs),
    ``auth`` an optional httpx auth (a :class:`BearerTokenFile`), ``transport``
    replaces the network (tests pass an ``httpx.MockTransport``). Thread-safe.
    """

    def __init__(self, service_url: str, *, verify: ssl.SSLContext | bool = True,
                 auth: httpx.Auth | None = None, timeout: float = 30.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.service_url = service_url.rstrip("/")
        self.base_url = f"{self.service_url}/rest/1.0"
        self._client = httpx.Client(verify=verify, auth=auth, transport=transport, trust_env=False,
                                    timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                                    headers={"Accept": "application/json"})

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()

    def _request(self, method: str, path: str, *, missing_ok: bool = False,
                 **kwargs: Any) -> httpx.Response:
        """One HTTP call, errors translated (module doc); a 404 is returned when ``missing_ok``."""
        url = f"{self.base_url}/{path}"
        try:
            response = self._client.request(method, url, **kwargs)
        except (httpx.TimeoutException, httpx.NetworkError) as exc:
            if _is_tls_error(exc):
                raise CEError(f"TLS handshake with ARC CE {self.service_url} failed: {exc}",
                              url=self.service_url) from exc
            raise CEUnreachable(f"ARC CE {self.service_url} unreachable: {exc or type(exc).__name__}",
                                url=self.service_url) from exc
        except httpx.HTTPError as exc:
            raise CEError(f"ARC CE {self.service_url}: {method} {path} failed: {exc}",
                          url=self.service_url) from exc
        if response.status_code == 404 and missing_ok:
            return response
        if response.status_code >= 400:
            body = response.text[:_EXCERPT]
            raise CEError(f"ARC CE {self.service_url}: {method} {path} answered HTTP "
                          f"{response.status_code} {response.reason_phrase}"
                          + (f": {body}" if body else ""),
                          url=self.service_url, status=response.status_code, body=body)
        return response

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        if not response.content.strip():
            return {}
        try:
            data = response.json()
        except ValueError as exc:
            raise CEError(f"ARC CE {self.service_url} sent invalid JSON: {response.text[:_EXCERPT]}",
                          url=self.service_url, body=response.text[:_EXCERPT]) from exc
        if not isinstance(data, dict):
            raise CEError(f"ARC CE {self.service_url} sent unexpected JSON: {response.text[:_EXCERPT]}",
                          url=self.service_url, body=response.text[:_EXCERPT])
        return data

    def _jobs_answer(self, response: httpx.Response) -> list[JobAnswer]:
        items = as_list(self._json(response).get("job"))
        return [JobAnswer.from_json(item) for item in items if isinstance(item, dict)]

    def create_jobs(self, xrsl: str) -> list[JobAnswer]:
        """Create the jobs ``xrsl`` describes; one answer per job, in description order.

        A created job has code 201 and an id; a refused one (bad description,
        forbidden queue) a 4xx/5xx code and the reason.
        """
        response = self._request("POST", "jobs", params={"action": "new"}, content=xrsl.encode(),
                                 headers={"Content-Type": "application/rsl"})
        return self._jobs_answer(response)

    def put_file(self, job_id: str, name: str, data: bytes) -> None:
        """Upload ``data`` as ``name`` into the job's session directory."""
        self._request("PUT", f"jobs/{job_id}/session/{name}", content=data,
                      headers={"Content-Type": "application/octet-stream"})

    def _bulk(self, action: str, job_ids: Sequence[str]) -> dict[str, JobAnswer]:
        answers: dict[str, JobAnswer] = {}
        for chunk in _chunks(job_ids, BULK_CHUNK):
            response = self._request("POST", "jobs", params={"action": action},
                                     json={"job": [{"id": job_id} for job_id in chunk]})
            answers.update((answer.id, answer) for answer in self._jobs_answer(response) if answer.id)
        return answers

    def states(self, job_ids: Sequence[str]) -> dict[str, JobAnswer]:
        """The REST state of each job (``action=status``), keyed by id; 404 for unknown jobs."""
        return self._bulk("status", job_ids)

    def kill(self, job_ids: Sequence[str]) -> dict[str, JobAnswer]:
        """Ask A-REX to cancel each job (``action=kill``); 202 when queued, 404 for unknown jobs."""
        return self._bulk("kill", job_ids)

    def clean(self, job_ids: Sequence[str]) -> dict[str, JobAnswer]:
        """Ask A-REX to remove each job and its files (``action=clean``)."""
        return self._bulk("clean", job_ids)

    def list_jobs(self) -> list[str]:
        """The ids of every job A-REX holds for this identity."""
        response = self._request("GET", "jobs")
        items = as_list(self._json(response).get("job"))
        return [str(item["id"]) for item in items if isinstance(item, dict) and item.get("id")]

    def diagnose(self, job_id: str, what: str) -> str | None:
        """The text of ``jobs/<id>/diagnose/<what>`` (status, failed, errors, ...); None on 404.

        A 404 means an unknown job, or a diagnostic the job does not have
        (``failed`` of a job that did not fail).
        """
        response = self._request("GET", f"jobs/{job_id}/diagnose/{what}", missing_ok=True,
                                 headers={"Accept": "text/plain"})
        return None if response.status_code == 404 else response.text

    def session_file(self, job_id: str, name: str) -> bytes | None:
        """The content of a file of the job's session directory; None on 404."""
        response = self._request("GET", f"jobs/{job_id}/session/{name}", missing_ok=True,
                                 headers={"Accept": "application/octet-stream"})
        return None if response.status_code == 404 else response.content

    def glue2(self) -> dict[str, Any]:
        """The CE's GLUE2 information, as A-REX renders it in JSON."""
        response = self._request("GET", "info", params={"schema": "glue2"})
        return self._json(response)

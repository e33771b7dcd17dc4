"""Retries with back-off, on a scripted transport: only when a repeat cannot do harm, never on a 4xx.

No server and no database here: these are the transport's rules, the same on every backend.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from dirac_core.client import RemoteError, RemoteInterware, RetryPolicy, ServerUnreachable
from dirac_core.errors import (
    DatabaseUnavailable,
    DiracError,
    JDLError,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
)
from dirac_core.wms.query import InvalidQuery

URL = "http://dirac.invalid"
JDL = '[Executable = "/bin/echo";]'
SUBMITTED = [{"JobID": 7, "Status": "Waiting", "MinorStatus": "Pilot Agent Submission",
              "TimeStamp": "2030-01-01T00:00:00+00:00"}]


class Script:
    """A transport that answers (or fails) request after request as scripted; records the paths."""

    def __init__(self, *steps: Exception | httpx.Response) -> None:
        self._steps: Iterator[Exception | httpx.Response] = iter(steps)
        self.paths: list[str] = []
        self.delays: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        step = next(self._steps)
        if isinstance(step, Exception):
            raise step
        return step

    def client(self, **options: Any) -> RemoteInterware:
        options.setdefault("token", "a-token")
        return RemoteInterware(URL, transport=httpx.MockTransport(self), sleep=self.delays.append,
                               **options)


def _json(status: int, body: Any, **headers: str) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers)


def _refused() -> httpx.ConnectError:
    return httpx.ConnectError("connection refused")


def test_connection_errors_are_retried_with_exponential_backoff() -> None:
    script = Script(_refused(), _refused(), _json(200, [{"JobID": 1}]))
    page = script.client().wms.search(["JobID"])
    assert page.rows == [{"JobID": 1}] and page.total == 1
    assert script.delays == [0.5, 1.0] and script.paths == ["/api/jobs/search"] * 3


def test_retries_are_bounded_and_end_in_server_unreachable() -> None:
    script = Script(*(_refused() for _ in range(6)))
    with pytest.raises(ServerUnreachable) as raised:
        script.client(retry=RetryPolicy(attempts=6, backoff=1, max_delay=3)).wms.history(1)
    assert script.delays == [1, 2, 3, 3, 3] and len(script.paths) == 6
    assert raised.value.fields["attempts"] == 6 and isinstance(raised.value.__cause__, httpx.ConnectError)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 413, 422, 429])
@pytest.mark.parametrize("call", ["search", "history", "kill", "submit"])
def test_a_4xx_is_never_retried(status: int, call: str) -> None:
    script = Script(_json(status, {"detail": "no"}), _json(200, []))
    calls: dict[str, Callable[[RemoteInterware], object]] = {
        "search": lambda c: c.wms.search(), "history": lambda c: c.wms.history(1),
        "kill": lambda c: c.wms.kill([1]), "submit": lambda c: c.wms.submit(JDL)}
    with pytest.raises(DiracError) as raised:
        calls[call](script.client())
    assert len(script.paths) == 1 and script.delays == [] and raised.value.fields["status"] == status


def test_a_gateway_error_is_retried_for_a_read_only() -> None:
    script = Script(_json(502, {"detail": "bad gateway"}), _json(504, {}), _json(200, "JDL text"))
    assert script.client().wms.get_jdl(3) == "JDL text"
    assert script.delays == [0.5, 1.0]


def test_submission_is_not_retried_once_sent() -> None:
    for failure in (httpx.ReadTimeout("slow"), httpx.RemoteProtocolError("dropped")):
        script = Script(failure, _json(201, SUBMITTED))
        with pytest.raises(ServerUnreachable):
            script.client().wms.submit(JDL)
        assert script.paths == ["/api/jobs/jdl"] and script.delays == []
    unavailable = Script(_json(503, {"detail": "the database is unavailable"}), _json(201, SUBMITTED))
    with pytest.raises(DatabaseUnavailable):
        unavailable.client().wms.submit(JDL)
    assert unavailable.paths == ["/api/jobs/jdl"] and unavailable.delays == []


def test_submission_is_retried_when_the_connection_was_never_made() -> None:
    script = Script(_refused(), httpx.ConnectTimeout("no answer to SYN"), _json(201, SUBMITTED))
    [job] = script.client().wms.submit(JDL)
    assert job.job_id == 7 and script.delays == [0.5, 1.0]


def test_a_read_timeout_is_retried_for_a_search_not_for_a_match() -> None:
    search = Script(httpx.ReadTimeout("slow"), _json(200, []))
    assert search.client().wms.search().total == 0 and search.delays == [0.5]
    match = Script(httpx.ReadTimeout("slow"), _json(204, None))
    with pytest.raises(ServerUnreachable):
        match.client().wms.match({"Site": "DIRAC.A.ch", "CPUTime": 1})
    assert match.paths == ["/api/jobs/match"]


def test_a_refresh_is_not_retried_once_sent(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    path.write_text(json.dumps({"access_token": "a", "refresh_token": "r", "expires_on": 0}))
    script = Script(httpx.ReadTimeout("slow"), _json(200, {}))
    with pytest.raises(ServerUnreachable):
        script.client(token=None, credentials_path=path).wms.search()
    assert script.paths == ["/api/auth/token"] and script.delays == []
    assert json.loads(path.read_text())["refresh_token"] == "r"


@pytest.mark.parametrize(("status", "body", "kind"), [
    (401, {"detail": "not authenticated"}, NotAuthenticated),
    (403, {"detail": "needs one of: NormalUser"}, PermissionDenied),
    (404, {"detail": "job 3 not found"}, NotFound),
    (503, {"detail": "the database is unavailable"}, DatabaseUnavailable),
    (503, {"detail": "maintenance"}, RemoteError),
    (500, "Internal Server Error", RemoteError),
])
def test_statuses_map_to_the_library_errors(status: int, body: Any, kind: type[DiracError]) -> None:
    script = Script(*([_json(status, body)] * 4))
    with pytest.raises(kind) as raised:
        script.client().wms.history(3)
    assert type(raised.value) is kind and raised.value.fields["status"] == status


def test_a_400_is_the_routes_own_error() -> None:
    with pytest.raises(JDLError, match="job 0: line 1"):
        Script(_json(400, {"detail": "job 0: line 1: unexpected end"})).client().wms.submit(JDL)
    with pytest.raises(InvalidQuery, match="unknown parameter"):
        Script(_json(400, {"detail": "unknown parameter 'X'"})).client().wms.summary(["Status"])


def test_a_422_names_the_field() -> None:
    detail = [{"loc": ["body", "job_ids", 0], "msg": "Input should be a valid integer", "type": "int"}]
    with pytest.raises(DiracError, match=r"body\.job_ids\.0: Input should be a valid integer") as raised:
        Script(_json(422, {"detail": detail})).client().wms.kill([1])
    assert raised.value.fields["field"] == "body.job_ids.0"


def test_the_default_policy_doubles_up_to_its_cap() -> None:
    policy = RetryPolicy()
    assert policy.attempts == 4
    assert [policy.delay(n) for n in range(1, 8)] == [0.5, 1, 2, 4, 8, 8, 8]

"""Bad requests get clear answers (and change nothing), on every backend."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey
from server_helpers import PASSWORD
from server_job_helpers import JDL, history, job_row, stamp, submit, visible

from dirac_core.interware import Interware
from dirac_core.model import FakeClock

Tokens = Callable[..., dict[str, str]]
CLIENT = "myDIRACClientID"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
LIMIT = 64 * 1024  # the client fixture's max_body_bytes


# -- malformed bodies and queries ------------------------------------------------


def test_malformed_json_is_422_and_submits_nothing(client: TestClient, auth: Tokens) -> None:
    headers = {**auth("alice"), "Content-Type": "application/json"}
    answer = client.post("/api/jobs/jdl", content=b'["[Executable = 1;]", ', headers=headers)
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["type"] == "json_invalid"
    assert visible(client, auth("alice")) == {}


@pytest.mark.parametrize("case", [
    ("POST", "/api/jobs/kill", {"job_ids": ["x"]}, ["body", "job_ids", 0]),
    ("POST", "/api/jobs/reschedule", {"jobs": [1]}, ["body", "job_ids"]),
    ("POST", "/api/jobs/jdl", {"jdl": JDL}, ["body"]),
    ("POST", "/api/jobs/jdl", [JDL, 7], ["body", 1]),
    ("POST", "/api/jobs/search", {"search": [{"parameter": "Status"}]},
     ["body", "search", 0, "operator"]),
    ("POST", "/api/jobs/search", {"parameters": "JobID"}, ["body", "parameters"]),
    ("POST", "/api/jobs/summary", {"search": []}, ["body", "grouping"]),
    ("PATCH", "/api/jobs/status", {"1": "Done"}, ["body", "1"]),
    ("PATCH", "/api/jobs/heartbeat", {"1": [1, 2]}, ["body", "1"]),
])
def test_wrong_types_are_422_naming_the_field(client: TestClient, auth: Tokens,
                                              case: tuple[str, str, Any, list[Any]]) -> None:
    method, path, body, loc = case
    answer = client.request(method, path, json=body, headers=auth("alice"))
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == loc
    assert visible(client, auth("alice")) == {}


@pytest.mark.parametrize("params", [{"page": 0}, {"per_page": 0}, {"per_page": 10_001},
                                    {"page": "one"}])
def test_bad_paging_is_422_naming_the_parameter(client: TestClient, auth: Tokens,
                                                params: dict[str, Any]) -> None:
    answer = client.post("/api/jobs/search", params=params, headers=auth("alice"))
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["query", next(iter(params))]


@pytest.mark.parametrize(("route", "body", "named"), [
    ("search", {"search": [{"parameter": "Colour", "operator": "eq", "value": "red"}]}, "Colour"),
    ("search", {"search": [{"parameter": "Status", "operator": "~", "value": "Done"}]}, "'~'"),
    ("search", {"parameters": ["JobID", "Password"]}, "Password"),
    ("search", {"sort": [{"parameter": "Colour", "direction": "asc"}]}, "Colour"),
    ("search", {"sort": [{"parameter": "JobID", "direction": "sideways"}]}, "sideways"),
    ("summary", {"grouping": ["Colour"]}, "Colour"),
    ("summary", {"grouping": ["Status"],
                 "search": [{"parameter": "Site", "operator": "near", "value": "x"}]}, "near"),
])
def test_unknown_search_column_or_operator_is_400(client: TestClient, auth: Tokens, route: str,
                                                  body: dict[str, Any], named: str) -> None:
    answer = client.post(f"/api/jobs/{route}", json=body, headers=auth("alice"))
    assert answer.status_code == 400, answer.text
    assert named in answer.json()["detail"]


# -- credentials --------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/api/jobs/search"), ("GET", "/api/jobs/1/history"), ("GET", "/api/config/"),
    ("GET", "/api/auth/userinfo"), ("POST", "/api/jobs/match"),
])
def test_missing_token_is_401_with_www_authenticate(client: TestClient, method: str,
                                                    path: str) -> None:
    answer = client.request(method, path, json={})
    assert answer.status_code == 401, answer.text
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.json() == {"detail": "not authenticated"}


@pytest.mark.parametrize("header", ["Basic x", "Bearer", "Bearer  ", "Token abc", "bearer-x"])
def test_malformed_authorization_header_is_400(client: TestClient, header: str) -> None:
    answer = client.get("/api/auth/userinfo", headers={"Authorization": header})
    assert answer.status_code == 400, answer.text
    assert "Bearer" in answer.json()["detail"]


def test_expired_token_is_401(client: TestClient, auth: Tokens, fake_clock: FakeClock) -> None:
    headers = auth("alice")
    fake_clock.advance(timedelta(minutes=20, seconds=30))  # exp + the 30 s leeway: still valid
    assert client.get("/api/auth/userinfo", headers=headers).status_code == 200
    fake_clock.advance(1)
    answer = client.get("/api/auth/userinfo", headers=headers)
    assert answer.status_code == 401, answer.text
    assert answer.json() == {"detail": "expired token"}
    assert answer.headers["www-authenticate"] == "Bearer"


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    padded = [part + "=" * (-len(part) % 4) for part in (header, payload)]
    return (json.loads(base64.urlsafe_b64decode(padded[0])),
            json.loads(base64.urlsafe_b64decode(padded[1])), signature)


def _bearer(auth: Tokens, user: str = "alice") -> str:
    return auth(user)["Authorization"].removeprefix("Bearer ")


def _refused(client: TestClient, token: str) -> None:
    answer = client.get("/api/auth/userinfo", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401, answer.text
    assert answer.json() == {"detail": "invalid token"}


def test_forged_signature_is_401(client: TestClient, auth: Tokens) -> None:
    header, claims, signature = _parts(_bearer(auth))
    # alice's signature on a payload that says she is in the administrators' group
    claims.update(dirac_group="demo_admin", dirac_properties=["JobAdministrator", "NormalUser"])
    _refused(client, f"{_b64(header)}.{_b64(claims)}.{signature}")
    # a signature with one character changed
    token = _bearer(auth)
    flipped = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    _refused(client, flipped)


def test_alg_none_token_is_401(client: TestClient, auth: Tokens) -> None:
    header, claims, _ = _parts(_bearer(auth))
    _refused(client, f"{_b64({**header, 'alg': 'none'})}.{_b64(claims)}.")
    _refused(client, f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.")


def test_token_signed_by_another_key_is_401(client: TestClient, auth: Tokens) -> None:
    header, claims, _ = _parts(_bearer(auth))
    for kid in (header["kid"], "not-our-key"):
        other = RSAKey.generate_key(2048, parameters={"kid": kid})
        token = jwt.encode({"alg": "RS256", "kid": kid, "typ": "JWT"}, claims, other,
                           algorithms=["RS256"])
        _refused(client, token)


def test_tokens_of_another_issuer_or_kind_are_401(client: TestClient, iw: Interware) -> None:
    _, pair = iw.auth.issue("alice", vo="demo")
    _, claims, _ = _parts(pair.access_token)
    _refused(client, iw.auth.tokens.sign({**claims, "iss": "https://elsewhere.example"}))
    _refused(client, iw.auth.tokens.sign({**claims, "aud": "someone-else"}))
    _refused(client, pair.refresh_token)  # a refresh token is no access token
    _refused(client, "not.a.jwt")
    answer = client.get("/api/auth/userinfo",
                        headers={"Authorization": f"Bearer {pair.access_token}"})
    assert answer.status_code == 200, answer.text


# -- status updates ---------------------------------------------------------------------


@pytest.mark.parametrize(("when", "says"), [
    ("2026-01-01T00:00:05", "time zone"), ("yesterday", "ISO 8601"), ("", "ISO 8601"),
])
def test_bad_timestamp_is_400_and_nothing_changes(client: TestClient, auth: Tokens,
                                                  fake_clock: FakeClock, when: str,
                                                  says: str) -> None:
    first, second = submit(client, auth("alice"), 2)
    before = [history(client, auth("alice"), job) for job in (first, second)]
    good = stamp(fake_clock, 5)
    update = {"Status": "Killed", "MinorStatus": "by alice", "Source": "alice"}
    answer = client.patch("/api/jobs/status", headers=auth("alice"), json={
        str(first): {good: update}, str(second): {good: update, when: update}})
    assert answer.status_code == 400, answer.text
    assert says in answer.json()["detail"] and str(second) in answer.json()["detail"]
    assert [history(client, auth("alice"), job) for job in (first, second)] == before
    assert {row["Status"] for row in visible(client, auth("alice")).values()} == {"Waiting"}


@pytest.mark.parametrize("key", ["-1", "0", "x", "1.0", "\u00b2", "9" * 20, "1" * 5000])
def test_bad_job_id_key_is_400(client: TestClient, auth: Tokens, fake_clock: FakeClock,
                               key: str) -> None:
    [job] = submit(client, auth("alice"))
    good = stamp(fake_clock)
    answer = client.patch("/api/jobs/status", headers=auth("alice"), json={
        str(job): {good: {"Status": "Killed"}}, key: {good: {"Status": "Killed"}}})
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"].endswith("is not a job id")
    beat = client.patch("/api/jobs/heartbeat", headers=auth("alice"), json={str(job): {}, key: {}})
    assert beat.status_code == 400 and beat.json()["detail"].endswith("is not a job id")
    row = job_row(client, auth("alice"), job)
    assert row["Status"] == "Waiting" and row["HeartBeatTime"] is None


@pytest.mark.parametrize(("update", "field"), [
    ({"Status": "Finished"}, "Status"), ({"Status": 5}, "Status"), ({"MinorStatus": 5}, "MinorStatus"),
    ({"ApplicationStatus": ["x"]}, "ApplicationStatus"), ({"Source": None}, "Source"),
    ({"status": "Killed"}, "status"),
])
def test_malformed_status_update_is_422_naming_the_field(client: TestClient, auth: Tokens,
                                                         fake_clock: FakeClock,
                                                         update: dict[str, Any], field: str) -> None:
    first, second = submit(client, auth("alice"), 2)
    when = stamp(fake_clock)
    answer = client.patch("/api/jobs/status", headers=auth("alice"), json={
        str(first): {when: {"Status": "Killed"}}, str(second): {when: update}})
    assert answer.status_code == 422, answer.text
    assert answer.json()["detail"][0]["loc"] == ["body", str(second), when, field]
    assert {row["Status"] for row in visible(client, auth("alice")).values()} == {"Waiting"}


@pytest.mark.parametrize("when", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+01:00"])
def test_timestamp_out_of_range_is_400(client: TestClient, auth: Tokens, when: str) -> None:
    [job] = submit(client, auth("alice"))
    before = history(client, auth("alice"), job)
    answer = client.patch("/api/jobs/status", headers=auth("alice"),
                          json={str(job): {when: {"MinorStatus": "x"}}})
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"] == f"job {job}: timestamp {when!r} is out of range"
    assert history(client, auth("alice"), job) == before


@pytest.mark.parametrize("job_id", ["0", "-3", str(2**63), "x"])
def test_bad_job_id_in_a_path_is_422(client: TestClient, auth: Tokens, job_id: str) -> None:
    for route in ("history", "jdl"):
        answer = client.get(f"/api/jobs/{job_id}/{route}", headers=auth("alice"))
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"][0]["loc"] == ["path", "job_id"]


@pytest.mark.parametrize("job_id", [0, -1, 2**63, 10**30])
def test_bad_job_id_in_a_bulk_body_is_422(client: TestClient, auth: Tokens, job_id: int) -> None:
    [job] = submit(client, auth("alice"))
    for route in ("kill", "delete", "reschedule"):
        answer = client.post(f"/api/jobs/{route}", headers=auth("alice"),
                             json={"job_ids": [job, job_id]})
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"][0]["loc"] == ["body", "job_ids", 1]
    assert job_row(client, auth("alice"), job)["Status"] == "Waiting"


# -- sizes ---------------------------------------------------------------------------------


def _too_big() -> bytes:
    return json.dumps(["[Executable = \"/bin/echo\"; Arguments = \"" + "x" * LIMIT + "\";]"]).encode()


def test_declared_body_over_the_limit_is_413(client: TestClient, auth: Tokens) -> None:
    body = _too_big()
    answer = client.post("/api/jobs/jdl", content=body,
                         headers={**auth("alice"), "Content-Type": "application/json"})
    assert answer.request.headers["content-length"] == str(len(body))
    assert answer.status_code == 413, answer.text
    assert answer.json() == {"detail": f"request body over {LIMIT} bytes"}
    assert visible(client, auth("alice")) == {}


def _chunks(body: bytes, size: int = 4096) -> Iterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start:start + size]


def test_streamed_body_over_the_limit_is_413(client: TestClient, auth: Tokens) -> None:
    answer = client.post("/api/jobs/jdl", content=_chunks(_too_big()),
                         headers={**auth("alice"), "Content-Type": "application/json"})
    assert "content-length" not in answer.request.headers
    assert answer.request.headers["transfer-encoding"] == "chunked"
    assert answer.status_code == 413, answer.text
    assert answer.json() == {"detail": f"request body over {LIMIT} bytes"}
    assert visible(client, auth("alice")) == {}


def test_streamed_form_over_the_limit_is_413(client: TestClient) -> None:
    body = b"grant_type=refresh_token&refresh_token=" + b"x" * LIMIT
    answer = client.post("/api/auth/token", content=_chunks(body),
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 413, answer.text


def test_streamed_body_under_the_limit_is_served(client: TestClient, auth: Tokens) -> None:
    body = json.dumps([JDL, JDL]).encode()
    answer = client.post("/api/jobs/jdl", content=_chunks(body, 16),
                         headers={**auth("alice"), "Content-Type": "application/json"})
    assert answer.status_code == 201, answer.text
    assert len(visible(client, auth("alice"))) == 2


def test_too_many_jdls_is_400_and_submits_nothing(client: TestClient, auth: Tokens) -> None:
    answer = client.post("/api/jobs/jdl", json=[JDL] * 21, headers=auth("alice"))
    assert answer.status_code == 400, answer.text
    assert answer.json() == {"detail": "at most 20 JDLs per call, got 21"}
    assert visible(client, auth("alice")) == {}
    assert len(submit(client, auth("alice"), 20)) == 20


def test_empty_jdl_list_is_400(client: TestClient, auth: Tokens) -> None:
    answer = client.post("/api/jobs/jdl", json=[], headers=auth("alice"))
    assert answer.status_code == 400 and answer.json() == {"detail": "no JDL given"}


@pytest.mark.parametrize(("jdl", "where"), [
    ('[Executable = "/bin/echo"; @]', "(line 1, column 28)"),
    ('[\n  Executable = "/bin/echo";\n  Executable = "/bin/true";\n]', "(line 3, column 3)"),
    ('[\n  Executable = "/bin/echo"\n  Arguments = "x";\n]', "line 3, column 3"),
])
def test_malformed_jdl_is_400_naming_line_and_column(client: TestClient, auth: Tokens, jdl: str,
                                                    where: str) -> None:
    answer = client.post("/api/jobs/jdl", json=[JDL, jdl], headers=auth("alice"))
    assert answer.status_code == 400, answer.text
    detail = answer.json()["detail"]
    assert detail.startswith("job 1: ") and where in detail
    assert visible(client, auth("alice")) == {}


# -- the device flow ------------------------------------------------------------------


def _start(client: TestClient, client_id: str = CLIENT, scope: str = "vo:demo") -> Any:
    return client.post("/api/auth/device", params={"client_id": client_id, "scope": scope})


def _poll(client: TestClient, device_code: str) -> Any:
    return client.post("/api/auth/token", data={"grant_type": DEVICE_GRANT, "client_id": CLIENT,
                                                "device_code": device_code})


@pytest.mark.parametrize(("client_id", "scope", "error"), [
    ("someone-elses-client", "vo:demo", "invalid_client"),
    (CLIENT, "vo:nowhere", "invalid_scope"),
])
def test_device_flow_refuses_unknown_client_or_vo(client: TestClient, client_id: str,
                                                  scope: str, error: str) -> None:
    answer = _start(client, client_id, scope)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == error
    assert (client_id if error == "invalid_client" else "nowhere") in answer.json()["detail"]


@pytest.mark.parametrize("scope", ["group:demo_user", "vo:demo vo:other", ""])
def test_device_flow_refuses_malformed_scopes(client: TestClient, scope: str) -> None:
    answer = _start(client, scope=scope)
    assert answer.status_code == 400, answer.text
    assert "exactly one VO" in answer.json()["detail"]


def test_wrong_password_is_401_and_the_flow_stays_pending(client: TestClient) -> None:
    flow = _start(client).json()
    wrong = client.post("/api/auth/device/approve", data={
        "user_code": flow["user_code"], "username": "alice", "password": PASSWORD + "x"})
    assert wrong.status_code == 401, wrong.text
    assert "Login failed" in wrong.text and "text/html" in wrong.headers["content-type"]
    unknown = client.post("/api/auth/device/approve", data={
        "user_code": flow["user_code"], "username": "mallory", "password": PASSWORD})
    assert unknown.status_code == 401, unknown.text
    pending = _poll(client, flow["device_code"])
    assert pending.status_code == 400 and pending.json()["error"] == "authorization_pending"
    right = client.post("/api/auth/device/approve", data={
        "user_code": flow["user_code"], "username": "alice", "password": PASSWORD})
    assert right.status_code == 200, right.text
    assert _poll(client, flow["device_code"]).status_code == 200


def test_approving_an_unknown_code_is_404(client: TestClient) -> None:
    answer = client.post("/api/auth/device/approve", data={
        "user_code": "BCDFGHJK", "username": "alice", "password": PASSWORD})
    assert answer.status_code == 404, answer.text
    assert "no pending login" in answer.text


def test_a_used_device_code_is_invalid_grant(client: TestClient) -> None:
    flow = _start(client).json()
    approved = client.post("/api/auth/device/approve", data={
        "user_code": flow["user_code"], "username": "bob", "password": PASSWORD})
    assert approved.status_code == 200, approved.text
    assert _poll(client, flow["device_code"]).status_code == 200
    again = _poll(client, flow["device_code"])
    assert again.status_code == 400, again.text
    assert again.json()["error"] == "invalid_grant"
    unknown = _poll(client, "no-such-device-code")
    assert unknown.status_code == 400 and unknown.json()["error"] == "invalid_grant"
    # approving the used flow's user code again is refused too
    reused = client.post("/api/auth/device/approve", data={
        "user_code": flow["user_code"], "username": "bob", "password": PASSWORD})
    assert reused.status_code == 404, reused.text


def test_unsupported_grant_type_is_400(client: TestClient) -> None:
    answer = client.post("/api/auth/token", data={"grant_type": "password", "client_id": CLIENT})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "unsupported_grant_type"

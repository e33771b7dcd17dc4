"""The API surface besides access control: discovery, tokens, job answers, config, health."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet
from server_helpers import server_config
from server_job_helpers import RESOURCE, history, job_row, stamp, submit

from dirac_core.db import Database
from dirac_core.errors import DatabaseUnavailable
from dirac_core.interware import Interware
from dirac_core.model import FakeClock
from dirac_core.plugins.manager import make_plugin_manager
from dirac_server import ServerSettings, create_app

Tokens = Callable[..., dict[str, str]]
ISSUER = "http://testserver"
OPENID_KEYS = {
    "issuer", "token_endpoint", "userinfo_endpoint", "authorization_endpoint",
    "device_authorization_endpoint", "revocation_endpoint", "jwks_uri", "grant_types_supported",
    "scopes_supported", "response_types_supported",
    "token_endpoint_auth_signing_alg_values_supported", "token_endpoint_auth_methods_supported",
    "code_challenge_methods_supported",
}
STATE_KEYS = {"Status", "MinorStatus", "ApplicationStatus", "HeartBeatTime", "StartExecTime",
              "EndExecTime", "LastUpdateTime"}
STALE = {"Authorization": "Bearer stale.or.foreign"}


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return decoded


def _time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


# -- /.well-known -----------------------------------------------------------------------


def test_openid_configuration(client: TestClient) -> None:
    answer = client.get("/.well-known/openid-configuration", headers=STALE)
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert set(found) == OPENID_KEYS
    assert found["issuer"] == ISSUER
    assert found["token_endpoint"] == f"{ISSUER}/api/auth/token"
    assert found["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    for key in OPENID_KEYS:
        if key.endswith(("_endpoint", "_uri")):
            assert found[key].startswith(f"{ISSUER}/"), key
    assert {"vo:demo", "group:demo_user", "group:demo_pilot", "property:GenericPilot",
            "property:JobAdministrator", "property:NormalUser"} <= set(found["scopes_supported"])
    assert found["token_endpoint_auth_methods_supported"] == ["none"]
    assert found["code_challenge_methods_supported"] == ["S256"]
    assert {"refresh_token", "urn:ietf:params:oauth:grant-type:device_code"} <= set(
        found["grant_types_supported"])
    # the client uses token_endpoint verbatim, as an absolute URL
    refused = client.post(found["token_endpoint"], data={"grant_type": "refresh_token",
                                                          "refresh_token": "x.y.z"})
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_grant"
    assert client.get(found["jwks_uri"]).status_code == 200


def test_endpoints_stay_under_an_issuer_with_a_path(database: Database,
                                                    fake_clock: FakeClock) -> None:
    url = database.url.render_as_string(hide_password=False)
    config = server_config(url, issuer="https://dirac.example.org/prefix/")
    iw = Interware(config=config, database=database, clock=fake_clock,
                   hooks=make_plugin_manager(()))
    with TestClient(create_app(iw, ServerSettings())) as test_client:
        found = test_client.get("/.well-known/openid-configuration").json()
        flow = test_client.post("/api/auth/device", params={"client_id": "myDIRACClientID",
                                                            "scope": "vo:demo"}).json()
    base = "https://dirac.example.org/prefix"
    assert found["issuer"] == f"{base}/"
    assert found["token_endpoint"] == f"{base}/api/auth/token"
    assert found["device_authorization_endpoint"] == f"{base}/api/auth/device"
    assert flow["verification_uri"] == f"{base}/api/auth/device"
    assert flow["verification_uri_complete"] == f"{base}/api/auth/device?user_code={flow['user_code']}"


def test_jwks_has_public_keys_only_and_verifies_tokens(client: TestClient, iw: Interware,
                                                       auth: Tokens) -> None:
    token = auth("alice")["Authorization"].removeprefix("Bearer ")
    jwks = client.get("/.well-known/jwks.json", headers=STALE).json()
    assert len(jwks["keys"]) == 1
    [key] = jwks["keys"]
    assert key["kty"] == "RSA" and {"n", "e", "kid"} <= set(key)
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(key)
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["RS256"])
    assert decoded.claims["preferred_username"] == "alice"
    assert decoded.header["kid"] == key["kid"]
    iw.auth.keys.rotate()
    rotated = client.get("/.well-known/jwks.json").json()
    assert len(rotated["keys"]) == 2
    assert all(not {"d", "p", "q", "dp", "dq", "qi"} & set(k) for k in rotated["keys"])
    # a token of the retired key still verifies until it expires
    assert client.get("/api/auth/userinfo", headers={"Authorization": f"Bearer {token}"}
                      ).status_code == 200


def test_dirac_metadata(client: TestClient) -> None:
    answer = client.get("/.well-known/dirac-metadata", headers=STALE)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"virtual_organizations": {"demo": {
        "groups": {"demo_user": {"properties": ["NormalUser"]},
                   "demo_shared": {"properties": ["NormalUser"]},
                   "demo_pilot": {"properties": ["GenericPilot"]},
                   "demo_admin": {"properties": ["JobAdministrator", "NormalUser"]}},
        "support": {"message": "Contact the demo administrators", "webpage": None, "email": None},
        "default_group": "demo_user"}}}


def test_unauthenticated_auth_routes_ignore_a_stale_bearer(client: TestClient) -> None:
    started = client.post("/api/auth/device", headers=STALE,
                          params={"client_id": "myDIRACClientID", "scope": "vo:demo"})
    assert started.status_code == 200, started.text
    polled = client.post("/api/auth/token", headers=STALE, data={
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
        "client_id": "myDIRACClientID", "device_code": started.json()["device_code"]})
    assert polled.status_code == 400 and polled.json()["error"] == "authorization_pending"
    revoked = client.post("/api/auth/revoke", headers=STALE, data={"token": "x"})
    assert revoked.status_code == 200 and revoked.json() == "Nothing to revoke"


# -- tokens ---------------------------------------------------------------------------------


def _refresh(client: TestClient, token: str) -> Any:
    return client.post("/api/auth/token", data={"grant_type": "refresh_token",
                                                "client_id": "myDIRACClientID",
                                                "refresh_token": token})


def _me(client: TestClient, access: str) -> Any:
    return client.get("/api/auth/userinfo", headers={"Authorization": f"Bearer {access}"})


def test_refresh_rotates_and_a_replay_revokes_the_login(client: TestClient, iw: Interware,
                                                        fake_clock: FakeClock) -> None:
    _, first = iw.auth.issue("alice", vo="demo", group="demo_shared")
    _, other_login = iw.auth.issue("alice", vo="demo")
    fake_clock.advance(60)
    answer = _refresh(client, first.refresh_token)
    assert answer.status_code == 200, answer.text
    second = answer.json()
    assert set(second) == {"access_token", "expires_in", "token_type", "refresh_token"}
    assert second["token_type"] == "Bearer" and second["expires_in"] == 20 * 60
    assert second["refresh_token"] != first.refresh_token
    refresh_claims = _claims(second["refresh_token"])
    assert refresh_claims["exp"] - refresh_claims["iat"] == 60 * 60
    me = _me(client, second["access_token"]).json()
    assert me["preferred_username"] == "alice" and me["dirac_group"] == "demo_shared"
    replay = _refresh(client, first.refresh_token)
    assert replay.status_code == 401, replay.text
    assert replay.json()["error"] == "invalid_grant" and replay.json()["detail"]
    # the replay revoked the whole login, the new refresh token included
    assert _refresh(client, second["refresh_token"]).status_code == 401
    # but not alice's other login
    assert _refresh(client, other_login.refresh_token).status_code == 200


def test_revoke_then_refresh_fails(client: TestClient, iw: Interware) -> None:
    _, pair = iw.auth.issue("bob", vo="demo")
    rotated = _refresh(client, pair.refresh_token).json()
    revoked = client.post("/api/auth/revoke", data={"token": rotated["refresh_token"],
                                                    "token_type_hint": "refresh_token",
                                                    "client_id": "myDIRACClientID"})
    assert revoked.status_code == 200, revoked.text
    jti = _claims(rotated["refresh_token"])["jti"]
    assert revoked.json() == f"Refresh token {jti} revoked"
    refused = _refresh(client, rotated["refresh_token"])
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_grant"
    # unknown and garbage tokens succeed (RFC 7009) and revoke nothing
    _, other = iw.auth.issue("bob", vo="demo")
    for token in ("garbage", other.access_token):
        nothing = client.post("/api/auth/revoke", data={"token": token})
        assert nothing.status_code == 200 and nothing.json() == "Nothing to revoke"
    assert _refresh(client, other.refresh_token).status_code == 200


@pytest.mark.parametrize(("user", "group", "properties"), [
    ("alice", None, ["NormalUser"]),
    ("admin", "demo_admin", ["JobAdministrator", "NormalUser"]),
    ("pilot", "demo_pilot", ["GenericPilot"]),
])
def test_userinfo(client: TestClient, auth: Tokens, user: str, group: str | None,
                  properties: list[str]) -> None:
    answer = client.get("/api/auth/userinfo", headers=auth(user, group=group))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"sub": f"demo:{user}", "vo": "demo",
                             "dirac_group": group or "demo_user", "policies": {},
                             "properties": properties, "preferred_username": user}


# -- job answers -------------------------------------------------------------------------


def _matched(client: TestClient, auth: Tokens) -> int:
    [job] = submit(client, auth("alice"))
    got = client.post("/api/jobs/match", headers=auth("pilot", group="demo_pilot"), json=RESOURCE)
    assert got.status_code == 200 and got.json()["JobID"] == job, got.text
    return job


def _status(client: TestClient, headers: dict[str, str], job: int,
            updates: dict[str, dict[str, Any]]) -> Any:
    return client.patch("/api/jobs/status", headers=headers, json={str(job): updates})


def test_status_answer_shape_and_refused_transitions(client: TestClient, auth: Tokens,
                                                     fake_clock: FakeClock) -> None:
    job = _matched(client, auth)
    pilot = auth("pilot", group="demo_pilot")
    started = stamp(fake_clock)
    answer = _status(client, pilot, job, {started: {
        "Status": "Running", "MinorStatus": "Application", "ApplicationStatus": "step 1",
        "Source": "JobWrapper"}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["failed"] == {}
    state = answer.json()["success"][str(job)]
    assert set(state) == STATE_KEYS
    assert (state["Status"], state["MinorStatus"], state["ApplicationStatus"]) == (
        "Running", "Application", "step 1")
    assert _time(state["StartExecTime"]) == _time(started)
    assert _time(state["HeartBeatTime"]) == _time(started)  # a Job* source is a sign of life
    assert state["EndExecTime"] is None
    assert _time(state["LastUpdateTime"]) == fake_clock.now()
    # Running -> Waiting is refused: the call succeeds, the job stays, the history says so
    refused_at = stamp(fake_clock)
    refused = _status(client, pilot, job, {refused_at: {"Status": "Waiting", "Source": "test"}})
    assert refused.status_code == 200, refused.text
    assert refused.json()["success"][str(job)]["Status"] == "Running"
    last = history(client, auth("alice"), job)[-1]
    assert (last["status"], last["refused"], last["source"]) == ("Waiting", True, "test")
    assert _time(last["status_time"]) == _time(refused_at)
    # several updates of one job apply in time order, whatever the body's order
    first, second = stamp(fake_clock), stamp(fake_clock)
    ordered = _status(client, pilot, job, {second: {"Status": "Done", "Source": "JobWrapper"},
                                           first: {"Status": "Completing", "Source": "JobWrapper"}})
    done = ordered.json()["success"][str(job)]
    assert done["Status"] == "Done" and _time(done["EndExecTime"]) == _time(second)
    assert [r["status"] for r in history(client, auth("alice"), job)[-2:]] == ["Completing", "Done"]


def test_status_of_only_unknown_jobs_is_404(client: TestClient, auth: Tokens,
                                            fake_clock: FakeClock) -> None:
    [job] = submit(client, auth("alice"))
    when = stamp(fake_clock)
    mixed = client.patch("/api/jobs/status", headers=auth("alice"), json={
        str(job): {when: {"MinorStatus": "still here"}}, "999999": {when: {"Status": "Killed"}}})
    assert mixed.status_code == 200, mixed.text
    assert mixed.json()["success"][str(job)]["MinorStatus"] == "still here"
    assert mixed.json()["failed"] == {"999999": {"detail": "job 999999 not found"}}
    only = client.patch("/api/jobs/status", headers=auth("alice"),
                        json={"999999": {when: {"Status": "Killed"}}})
    assert only.status_code == 404 and only.json()["success"] == {}


def test_heartbeat_hands_out_a_kill_once(client: TestClient, auth: Tokens) -> None:
    job = _matched(client, auth)
    pilot = auth("pilot", group="demo_pilot")
    beat = {str(job): {"LoadAverage": 0.5, "MemoryUsed": 1024, "CPUConsumed": 12.5}}
    first = client.patch("/api/jobs/heartbeat", headers=pilot, json=beat)
    assert first.status_code == 200 and first.json() == []
    row = job_row(client, auth("alice"), job)
    assert row["Status"] == "Running" and row["HeartBeatTime"] is not None
    killed = client.post("/api/jobs/kill", headers=auth("alice"), json={"job_ids": [job]})
    assert killed.status_code == 200, killed.text
    assert killed.json() == {"success": {str(job): "Killed"}, "failed": {}}
    commands = client.patch("/api/jobs/heartbeat", headers=pilot, json=beat)
    assert commands.status_code == 200, commands.text
    assert [(c["job_id"], c["command"]) for c in commands.json()] == [(job, "Kill")]
    assert set(commands.json()[0]) == {"job_id", "command", "arguments"}
    assert client.patch("/api/jobs/heartbeat", headers=pilot, json=beat).json() == []


def test_kill_and_delete_answers(client: TestClient, auth: Tokens,
                                 fake_clock: FakeClock) -> None:
    first, second = submit(client, auth("alice"), 2)
    alice = auth("alice")
    assert client.post("/api/jobs/kill", headers=alice, json={"job_ids": [first]}).json() == {
        "success": {str(first): "Killed"}, "failed": {}}
    # killing a killed job again is no error; killing a finished one is
    forced = client.patch("/api/jobs/status", params={"force": "true"},
                          headers=auth("admin", group="demo_admin"),
                          json={str(second): {stamp(fake_clock): {"Status": "Done"}}})
    assert forced.json()["success"][str(second)]["Status"] == "Done"
    again = client.post("/api/jobs/kill", headers=alice, json={"job_ids": [first, second]}).json()
    assert again["success"] == {str(first): "Killed"}
    assert again["failed"] == {str(second): {"detail": f"job {second}: Done -> Killed is not allowed"}}
    deleted = client.post("/api/jobs/delete", headers=alice, json={"job_ids": [first, second]})
    assert deleted.json() == {"success": {str(first): "Deleted", str(second): "Deleted"},
                              "failed": {}}
    assert {job_row(client, alice, j)["Status"] for j in (first, second)} == {"Deleted"}


def test_reschedule_answer(client: TestClient, auth: Tokens) -> None:
    job = _matched(client, auth)
    alice = auth("alice")
    answer = client.post("/api/jobs/reschedule", headers=alice, json={"job_ids": [job]})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"success": {str(job): {"RescheduleCounter": 1}}, "failed": {}}
    row = job_row(client, alice, job)
    assert (row["RescheduleCounter"], row["Status"], row["MinorStatus"]) == (
        1, "Checking", "Rescheduling delay")
    reset = client.post("/api/jobs/reschedule", params={"reset_jobs": "true"}, headers=alice,
                        json={"job_ids": [job]})
    assert reset.json()["success"] == {str(job): {"RescheduleCounter": 0}}
    for counter in (1, 2, 3):
        again = client.post("/api/jobs/reschedule", headers=alice, json={"job_ids": [job]})
        assert again.json()["success"] == {str(job): {"RescheduleCounter": counter}}
    # past the VO's max_rescheduling (3) the job fails instead, keeping its counter
    over = client.post("/api/jobs/reschedule", headers=alice, json={"job_ids": [job]})
    assert over.json() == {"success": {str(job): {"RescheduleCounter": 3}}, "failed": {}}
    row = job_row(client, alice, job)
    assert (row["Status"], row["MinorStatus"]) == ("Failed", "Maximum of reschedulings reached")
    client.post("/api/jobs/delete", headers=alice, json={"job_ids": [job]})
    final = client.post("/api/jobs/reschedule", headers=alice, json={"job_ids": [job]}).json()
    assert final["success"] == {}
    assert "cannot be rescheduled" in final["failed"][str(job)]["detail"]


def test_search_paging(client: TestClient, auth: Tokens) -> None:
    alice = auth("alice")
    assert client.post("/api/jobs/search", headers=alice).json() == []
    ids = submit(client, alice, 3)
    full = client.post("/api/jobs/search", params={"per_page": 3}, headers=alice,
                       json={"parameters": ["JobID"], "sort": [{"parameter": "JobID",
                                                                "direction": "desc"}]})
    assert full.status_code == 200 and "content-range" not in full.headers
    assert full.json() == [{"JobID": j} for j in sorted(ids, reverse=True)]
    last = client.post("/api/jobs/search", params={"per_page": 2, "page": 2}, headers=alice,
                       json={"parameters": ["JobID"], "sort": [{"parameter": "JobID"}]})
    assert last.status_code == 206 and last.headers["content-range"] == "jobs 2-2/3"
    assert last.json() == [{"JobID": max(ids)}]


def test_job_jdl_route(client: TestClient, auth: Tokens) -> None:
    [job] = submit(client, auth("alice"))
    answer = client.get(f"/api/jobs/{job}/jdl", headers=auth("alice"))
    assert answer.status_code == 200, answer.text
    assert isinstance(answer.json(), str) and "/bin/echo" in answer.json()


# -- config and health --------------------------------------------------------------------


def test_config_hides_passwords_and_honours_if_none_match(client: TestClient, auth: Tokens,
                                                          iw: Interware) -> None:
    assert any(user.password_hash for user in iw.config.registry.users.values())
    answer = client.get("/api/config/", headers=auth("alice"))
    assert answer.status_code == 200, answer.text
    assert "password_hash" not in answer.text
    assert "pbkdf2" not in answer.text.lower()
    body = answer.json()
    assert set(body["registry"]["users"]) == {"alice", "bob", "carol", "pilot", "admin"}
    etag = answer.headers["etag"]
    assert etag.startswith('"') and etag.endswith('"')
    same = client.get("/api/config/", headers={**auth("bob"), "If-None-Match": etag})
    assert same.status_code == 304 and same.content == b"" and same.headers["etag"] == etag
    other = client.get("/api/config/", headers={**auth("bob"), "If-None-Match": '"stale"'})
    assert other.status_code == 200 and other.headers["etag"] == etag and other.json() == body


def test_health(client: TestClient, iw: Interware, monkeypatch: pytest.MonkeyPatch) -> None:
    assert client.get("/api/health/live").json() == {"status": "live"}
    assert client.get("/api/health/startup").json() == {"status": "started"}
    ready = client.get("/api/health/ready")
    assert ready.status_code == 200 and ready.json() == {"status": "ready"}

    def down() -> None:
        raise DatabaseUnavailable("no database")

    monkeypatch.setattr(iw.database, "check", down)
    unready = client.get("/api/health/ready")
    assert unready.status_code == 503 and unready.json() == {"status": "database unavailable"}
    assert client.get("/api/health/live").status_code == 200

"""Attacks on the server's tokens, over HTTP: each one a clear 4xx, never a 500, never a way in.

Forged signatures (another key with the same kid, ``alg: none``, HS256 keyed with the public key, a
key embedded in the header), tokens out of their time window or for another audience or issuer,
tokens of one kind presented as another, a pilot's token on users' routes, a replayed refresh
token, oversized and malformed headers. Run on every backend (refresh tokens live in the database).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey
from sec_helpers import CLIENT, JDL, bearer, device_login, refresh

from dirac_core.auth.tokens import LEEWAY, MAX_TOKEN_BYTES
from dirac_core.interware import Interware
from dirac_core.model import FakeClock
from dirac_server import create_app
from dirac_server.runner import running

Claims = dict[str, Any]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _compact(header: Claims, claims: Claims, signature: str = "") -> str:
    return ".".join((_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), signature))


def _claims(iw: Interware, user: str = "alice", **changes: Any) -> Claims:
    """Good access-token claims of ``user``, changed by ``changes`` (None removes a claim)."""
    claims = iw.auth.tokens.access_claims(iw.identity(user), iw.clock.now(), timedelta(minutes=10))
    claims.update(changes)
    return {key: value for key, value in claims.items() if value is not None}


def _status(client: TestClient, token: str) -> int:
    """What ``GET /api/auth/userinfo`` answers to ``token`` (checking that it is no 5xx)."""
    answer = client.get("/api/auth/userinfo", headers={"Authorization": f"Bearer {token}".encode()})
    assert answer.status_code < 500, answer.text
    return answer.status_code


def test_a_good_token_works(client: TestClient, iw: Interware) -> None:
    assert _status(client, iw.auth.tokens.sign(_claims(iw))) == 200


# --- forged signatures ---------------------------------------------------------------------------

def _another_key_same_kid(iw: Interware) -> str:
    kid = iw.auth.keys.signing_key().kid
    impostor = RSAKey.generate_key(2048, parameters={"kid": kid, "alg": "RS256"})
    return jwt.encode({"alg": "RS256", "kid": kid, "typ": "JWT"}, _claims(iw, "admin"), impostor,
                      algorithms=["RS256"])


def _alg_none(iw: Interware) -> str:
    return _compact({"alg": "none", "kid": iw.auth.keys.signing_key().kid, "typ": "JWT"}, _claims(iw))


def _alg_none_with_a_real_signature(iw: Interware) -> str:
    signature = iw.auth.tokens.sign(_claims(iw)).split(".")[2]
    return _compact({"alg": "none", "kid": iw.auth.keys.signing_key().kid}, _claims(iw), signature)


def _public_pem(iw: Interware) -> str:
    head_and_body = _compact({"alg": "HS256", "kid": iw.auth.keys.signing_key().kid, "typ": "JWT"},
                             _claims(iw, "admin"))[:-1]
    secret = iw.auth.keys.signing_key().as_pem(private=False)
    return f"{head_and_body}.{_b64(hmac.new(secret, head_and_body.encode(), hashlib.sha256).digest())}"


def _public_jwk_json(iw: Interware) -> str:
    head_and_body = _compact({"alg": "HS256", "kid": iw.auth.keys.signing_key().kid}, _claims(iw))[:-1]
    secret = json.dumps(iw.auth.keys.signing_key().as_dict(private=False)).encode()
    return f"{head_and_body}.{_b64(hmac.new(secret, head_and_body.encode(), hashlib.sha256).digest())}"


def _embedded_jwk(iw: Interware) -> str:
    # the attacker's own key in the header (jwk), and as a URL (jku): never trusted
    impostor = RSAKey.generate_key(2048, parameters={"kid": "mine", "alg": "RS256"})
    header = {"alg": "RS256", "kid": "mine", "jwk": impostor.as_dict(private=False),
              "jku": "http://127.0.0.1:1/jwks.json"}
    return jwt.encode(header, _claims(iw, "admin"), impostor, algorithms=["RS256"])


def _tampered_payload(iw: Interware) -> str:
    head, _, signature = iw.auth.tokens.sign(_claims(iw)).split(".")
    return f"{head}.{_b64(json.dumps(_claims(iw, 'admin')).encode())}.{signature}"


@pytest.mark.parametrize("forge", [
    _another_key_same_kid, _alg_none, _alg_none_with_a_real_signature, _public_pem, _public_jwk_json,
    _embedded_jwk, _tampered_payload,
], ids=["other-key-same-kid", "alg-none", "alg-none-real-signature", "hs256-public-pem", "hs256-public-jwk",
        "embedded-jwk", "tampered-payload"])
def test_forged_signatures_are_401(client: TestClient, iw: Interware,
                                   forge: Callable[[Interware], str]) -> None:
    assert _status(client, forge(iw)) == 401


# --- claims: time, audience, issuer, kind --------------------------------------------------------

def _epoch_in(iw: Interware, delta: timedelta) -> int:
    return int((iw.clock.now() + delta).timestamp())


@pytest.mark.parametrize(("change", "status"), [
    (lambda iw: {"exp": _epoch_in(iw, -LEEWAY - timedelta(seconds=5))}, 401),  # expired
    (lambda iw: {"exp": _epoch_in(iw, -LEEWAY + timedelta(seconds=5))}, 200),  # within the leeway
    (lambda iw: {"nbf": _epoch_in(iw, LEEWAY + timedelta(seconds=5))}, 401),  # not yet valid
    (lambda iw: {"iat": _epoch_in(iw, LEEWAY + timedelta(seconds=5))}, 401),  # issued in the future
    (lambda iw: {"iat": _epoch_in(iw, timedelta(seconds=5))}, 200),  # clock skew, tolerated
    (lambda iw: {"exp": None}, 401), (lambda iw: {"exp": "never"}, 401), (lambda iw: {"exp": 1e300}, 401),
    (lambda iw: {"aud": "another-service"}, 401), (lambda iw: {"aud": None}, 401),
    (lambda iw: {"aud": [iw.config.auth.audience, "x"]}, 401),
    (lambda iw: {"iss": "https://evil.example.org"}, 401), (lambda iw: {"iss": None}, 401),
    (lambda iw: {"typ": "refresh"}, 401), (lambda iw: {"typ": "sandbox-upload"}, 401),
    (lambda iw: {"dirac_group": "demo_admin"}, 401),  # a group alice is not in
    (lambda iw: {"preferred_username": ["alice"]}, 401),
], ids=["expired", "expired-within-leeway", "nbf-future", "iat-future", "iat-skew", "no-exp", "exp-text",
        "exp-float", "wrong-aud", "no-aud", "aud-list", "wrong-iss", "no-iss", "typ-refresh", "typ-sandbox",
        "group-not-hers", "username-list"])
def test_claims_out_of_bounds(client: TestClient, iw: Interware,
                              change: Callable[[Interware], Claims], status: int) -> None:
    assert _status(client, iw.auth.tokens.sign(_claims(iw, **change(iw)))) == status


def test_an_expired_login(client: TestClient, fake_clock: FakeClock) -> None:
    login = device_login(client, "alice")
    assert _status(client, login["access_token"]) == 200
    fake_clock.advance(timedelta(minutes=21))  # access tokens live 20 minutes
    assert _status(client, login["access_token"]) == 401
    fake_clock.advance(timedelta(minutes=40))  # refresh tokens 60
    assert refresh(client, login["refresh_token"]).status_code == 401


def test_tokens_of_one_kind_are_not_another(client: TestClient, iw: Interware) -> None:
    login = device_login(client, "alice")
    assert _status(client, login["refresh_token"]) == 401  # a refresh token as access token
    as_refresh = refresh(client, login["access_token"])  # and the other way round
    assert as_refresh.status_code == 401 and as_refresh.json()["error"] == "invalid_grant"
    upload = iw.auth.tokens.sign({**_claims(iw), "typ": "sandbox-upload", "pfn": "x"})
    assert refresh(client, upload).status_code == 401
    download = client.get("/api/jobs/sandbox/download", params={"token": login["access_token"]})
    assert download.status_code == 401
    # revoking with an access token revokes nothing: the login goes on
    assert client.post("/api/auth/revoke", data={"token": login["access_token"]}).status_code == 200
    assert refresh(client, login["refresh_token"]).status_code == 200


def test_a_pilot_token_is_no_user_token(client: TestClient, iw: Interware) -> None:
    pilot = bearer(iw.auth.tokens.issue_pilot("demo", "stamp-1"))
    assert client.post("/api/jobs/jdl", json=[JDL], headers=pilot).status_code == 403
    owner = device_login(client, "alice")
    [job] = client.post("/api/jobs/jdl", json=[JDL], headers=bearer(owner["access_token"])).json()
    job_id = job["JobID"]
    for action in ("kill", "delete", "reschedule"):  # a job the pilot was not given
        answer = client.post(f"/api/jobs/{action}", json={"job_ids": [job_id]}, headers=pilot)
        assert answer.status_code < 500, answer.text
        assert answer.status_code != 200 or (str(job_id) in answer.json()["failed"]
                                             and not answer.json()["success"]), answer.text
    for path in (f"/api/jobs/{job_id}/jdl", f"/api/jobs/{job_id}/history", f"/api/jobs/{job_id}/sandbox"):
        assert client.get(path, headers=pilot).status_code in (403, 404), path
    # a pilot's token has no refresh token, and is refused as one
    assert refresh(client, pilot["Authorization"].split()[1]).status_code == 401
    assert iw.wms.get_jobs([job_id])[job_id]["status"] not in ("Killed", "Deleted")


def test_a_replayed_refresh_token_revokes_the_whole_login(client: TestClient) -> None:
    login = device_login(client, "alice")
    rotated = refresh(client, login["refresh_token"])
    assert rotated.status_code == 200
    # the thief replays the spent token: refused, and the whole family with it
    replay = refresh(client, login["refresh_token"])
    assert replay.status_code == 401 and replay.json()["error"] == "invalid_grant"
    legit = refresh(client, rotated.json()["refresh_token"])
    assert legit.status_code == 401 and "revoked" in legit.json()["detail"]
    # another login of the same user is not touched
    other = device_login(client, "alice")
    assert refresh(client, other["refresh_token"]).status_code == 200


# --- malformed and oversized -----------------------------------------------------------------------

def _garbage(real: str) -> list[str]:
    head, body, signature = real.split(".")
    return [
        "garbage", "a.b.c", "!!!.@@@.###", "....", f"{real}.", f"{head}.{body}", f"{head}..{signature}",
        "é.é.é", f"{_b64(b'not json')}.{body}.{signature}", f"{_b64(b'[1]')}.{body}.{signature}",
        f"{_b64(bytes([255, 254]))}.{body}.{signature}", f"{_b64(b'[' * 5000)}.{body}.{signature}",
        f"{_b64(json.dumps({'alg': 'RS256', 'kid': ['x']}).encode())}.{body}.{signature}",
        f"{_b64(json.dumps({'alg': 'RS256', 'kid': '../../etc/passwd'}).encode())}.{body}.{signature}",
        f"{_b64(json.dumps({'alg': 'RS256', 'kid': 'x OR 1=1; --'}).encode())}.{body}.{signature}",
        f"{head}.{_b64(b'{' * 5000)}.{signature}", f"{head}.{body}.{'A' * 5000}", "%00.%00.%00",
    ]


def test_garbage_tokens_are_401(client: TestClient, iw: Interware) -> None:
    for token in _garbage(iw.auth.tokens.sign(_claims(iw))):
        assert _status(client, token) == 401, token[:60]
        answer = refresh(client, token)
        assert answer.status_code == 401, answer.text


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Basic YWxpY2U6cHc=", "bearer", "Token abc",
                                    "Bearer a b c"])
def test_malformed_authorization_headers_are_4xx(client: TestClient, header: str) -> None:
    answer = client.get("/api/auth/userinfo", headers={"Authorization": header})
    assert answer.status_code in (400, 401), answer.text


def test_oversized_tokens_are_4xx(client: TestClient, iw: Interware) -> None:
    padded = iw.auth.tokens.sign(_claims(iw, padding="x" * MAX_TOKEN_BYTES))
    assert len(padded) > MAX_TOKEN_BYTES
    assert _status(client, padded) == 401
    assert _status(client, "a" * 1_000_000) == 401
    answer = refresh(client, padded)
    assert 400 <= answer.status_code < 500


def test_oversized_headers_on_a_live_server_are_4xx(iw: Interware) -> None:
    # uvicorn (h11) bounds the request head: past it the answer is a 4xx or a closed connection,
    # never a 500 and never a token checked
    with running(create_app(iw)) as url, httpx.Client(base_url=url, timeout=30) as live:
        good = iw.auth.tokens.sign(_claims(iw))
        assert live.get("/api/auth/userinfo", headers=bearer(good)).status_code == 200
        for size in (MAX_TOKEN_BYTES + 1, 60_000, 2_000_000):
            try:
                answer = live.get("/api/auth/userinfo", headers=bearer("a" * size))
            except httpx.TransportError:
                continue  # the server closed the connection on the oversized head
            assert 400 <= answer.status_code < 500, (size, answer.status_code)
        assert live.get("/api/auth/userinfo", headers=bearer(good)).status_code == 200


def test_device_and_token_endpoints_refuse_what_they_do_not_know(client: TestClient) -> None:
    cases = [
        {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": "x" * 256,
         "client_id": CLIENT},
        {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": "abc",
         "client_id": "another-client"},
        {"grant_type": "authorization_code", "code": "abc", "client_id": CLIENT, "code_verifier": "v" * 43},
        {"grant_type": "password", "username": "alice", "password": "x"},
        {"grant_type": "client_credentials", "client_id": CLIENT, "client_secret": "x"},
    ]
    for form in cases:
        answer = client.post("/api/auth/token", data=form)
        assert answer.status_code in (400, 401), answer.text
        assert "error" in answer.json()

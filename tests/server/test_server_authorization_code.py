"""The authorization-code grant with PKCE, through the login form, on every backend."""

from __future__ import annotations

import secrets
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from server_helpers import PASSWORD, server_config

from dirac_core.auth.codes import s256
from dirac_core.db import Database
from dirac_core.interware import Interware
from dirac_core.model import FakeClock
from dirac_core.plugins.manager import make_plugin_manager
from dirac_server import create_app

REDIRECT = "https://portal.example.org/callback"


@pytest.fixture
def web(database: Database, fake_clock: FakeClock) -> TestClient:
    """The app, with the portal's redirect URI registered."""
    config = server_config(database.url.render_as_string(hide_password=False),
                           allowed_redirects=[REDIRECT])
    iw = Interware(config=config, database=database, clock=fake_clock,
                   hooks=make_plugin_manager(()))
    return TestClient(create_app(iw), follow_redirects=False)


def _params(verifier: str, **extra: str) -> dict[str, str]:
    return {"response_type": "code", "client_id": "myDIRACClientID", "redirect_uri": REDIRECT,
            "code_challenge": s256(verifier), "code_challenge_method": "S256",
            "scope": "vo:demo", "state": "xyz", **extra}


def _login(web: TestClient, verifier: str, password: str = PASSWORD) -> str:
    form = {k: v for k, v in _params(verifier).items() if k != "response_type"}
    answer = web.post("/api/auth/authorize/approve",
                      data={**form, "username": "alice", "password": password})
    assert answer.status_code == 303, answer.text
    location = urlsplit(answer.headers["location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT
    query = parse_qs(location.query)
    assert query["state"] == ["xyz"]
    return query["code"][0]


def _exchange(web: TestClient, code: str, verifier: str) -> int:
    return web.post("/api/auth/token", data={
        "grant_type": "authorization_code", "code": code, "client_id": "myDIRACClientID",
        "redirect_uri": REDIRECT, "code_verifier": verifier}).status_code


def test_code_flow_gives_tokens_once(web: TestClient) -> None:
    verifier = secrets.token_urlsafe(48)
    page = web.get("/api/auth/authorize", params=_params(verifier))
    assert page.status_code == 200 and "password" in page.text
    code = _login(web, verifier)
    answer = web.post("/api/auth/token", data={
        "grant_type": "authorization_code", "code": code, "client_id": "myDIRACClientID",
        "redirect_uri": REDIRECT, "code_verifier": verifier})
    assert answer.status_code == 200, answer.text
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    assert web.get("/api/auth/userinfo", headers=headers).json()["preferred_username"] == "alice"
    assert _exchange(web, code, verifier) == 400  # used once


def test_code_flow_refuses_what_it_must(web: TestClient, fake_clock: FakeClock) -> None:
    verifier = secrets.token_urlsafe(48)
    assert _exchange(web, _login(web, verifier), "another-verifier-" + "x" * 40) == 400
    late = _login(web, verifier)
    fake_clock.advance(timedelta(minutes=6))
    assert _exchange(web, late, verifier) == 400
    bad_redirect = web.get("/api/auth/authorize",
                           params=_params(verifier, redirect_uri="https://evil.example/cb"))
    assert bad_redirect.status_code == 400
    plain = web.get("/api/auth/authorize", params=_params(verifier, code_challenge_method="plain"))
    assert plain.status_code == 400
    form = {k: v for k, v in _params(verifier).items() if k != "response_type"}
    wrong = web.post("/api/auth/authorize/approve",
                     data={**form, "username": "alice", "password": "wrong"})
    assert wrong.status_code == 401 and "location" not in wrong.headers

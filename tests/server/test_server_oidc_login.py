"""Logging in through a real OpenID provider (npm oidc-provider), on every backend.

The CLI's device flow is relayed to the provider, the browser's code flow goes
through the provider's login pages; people are mapped to registry users by
subject and to registry groups by the provider's groups.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from server_oidc_helpers import (
    PORTAL,
    authorize_params,
    new_verifier,
    oidc_config,
    query,
    register,
    subjects,
    token_request,
)
from sqlalchemy import func, select
from typer.testing import CliRunner

from dirac_core.cli import app
from dirac_core.cli import session as session_module
from dirac_core.db import Database
from dirac_core.db.tables.auth import authorization_codes, provider_logins, refresh_tokens
from dirac_core.interware import Interware
from dirac_core.model import FakeClock
from dirac_core.plugins.identity import ProviderDeviceStart
from dirac_core.plugins.manager import make_plugin_manager
from dirac_core.testing.oidc import OidcServer, RegisteredClient, oidc_provider
from dirac_server import create_app
from dirac_server.runner import bind, running, url_of

runner = CliRunner()
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"


def _count(database: Database, table: Any) -> int:
    with database.begin(read_only=True) as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


@pytest.fixture
def clock() -> FakeClock:
    """The server's clock: now, moved by the test (the provider's ID tokens carry the real time,
    and the CLI compares the expiry of its tokens with the real time)."""
    return FakeClock(datetime.now(UTC))


# -- through a live server: the CLI and a browser -------------------------------------------------


@pytest.fixture
def live(database: Database, oidc_server: OidcServer,
         clock: FakeClock) -> Iterator[tuple[str, Interware, dict[str, str]]]:
    """A live server whose people log in at the provider; alice and bob have subjects there."""
    sock = bind()
    url = url_of(sock)
    subs = subjects("alice", "bob")
    oidc_server.add_account(subs["alice"], groups=["demo_user"])
    oidc_server.add_account(subs["bob"], groups=["demo_user"])
    config = oidc_config(database.url.render_as_string(hide_password=False), server_url=url,
                         issuer=oidc_server.issuer, client=register(oidc_server, url), subs=subs)
    iw = Interware(config=config, database=database, clock=clock, hooks=make_plugin_manager(()))
    try:
        with running(create_app(iw), sock):
            yield url, iw, subs
    finally:
        iw.auth.close()


def _cli_login(iw: Interware, oidc_server: OidcServer, subject: str, env: dict[str, str],
               monkeypatch: pytest.MonkeyPatch) -> None:
    """``dirac-core login demo``, the person approving at the provider while the CLI waits (and the
    server's clock moving by the CLI's polling interval)."""
    started: list[ProviderDeviceStart] = []
    provider = iw.auth.provider
    real_start = provider.start_device

    def spy() -> ProviderDeviceStart:
        started.append(real_start())
        return started[-1]

    def approve_instead_of_waiting(seconds: float) -> None:
        if started:  # the person approves once, while the CLI waits
            assert "Sign-in Success" in oidc_server.approve_device(started.pop().user_code, subject)
        iw.clock.advance(seconds)

    with monkeypatch.context() as patch:
        patch.setattr(provider, "start_device", spy)
        patch.setattr(session_module.time, "sleep", approve_instead_of_waiting)
        logged = runner.invoke(app, ["login", "demo"], env=env)
    assert logged.exit_code == 0, logged.output
    assert f"Now go to: {oidc_server.issuer}/device?user_code=" in logged.output  # the provider's page
    assert "Login successful!" in logged.output


def test_cli_login_then_each_sees_only_their_jobs(live: tuple[str, Interware, dict[str, str]],
                                                 oidc_server: OidcServer, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    url, iw, subs = live
    jdl = tmp_path / "j.jdl"
    names: dict[str, list[dict[str, str]]] = {}
    for user in ("alice", "bob"):
        credentials = tmp_path / f"{user}.json"
        env = {"DIRACX_URL": url, "DIRACX_CREDENTIALS_PATH": str(credentials), "COLUMNS": "200"}
        monkeypatch.setenv("DIRACX_CREDENTIALS_PATH", str(credentials))
        _cli_login(iw, oidc_server, subs[user], env, monkeypatch)
        me = runner.invoke(app, ["whoami", "--json"], env=env)
        assert me.exit_code == 0, me.output
        assert json.loads(me.output)["preferred_username"] == user
        jdl.write_text(f'[Executable = "/bin/echo"; JobName = "{user}-job";]')
        submitted = runner.invoke(app, ["job", "submit", str(jdl), "--json"], env=env)
        assert submitted.exit_code == 0, submitted.output
        found = runner.invoke(app, ["job", "search", "--json", "--parameter", "JobName",
                                    "--parameter", "Owner"], env=env)
        assert found.exit_code == 0, found.output
        names[user] = json.loads(found.output)
    assert names == {"alice": [{"JobName": "alice-job", "Owner": "alice"}],
                     "bob": [{"JobName": "bob-job", "Owner": "bob"}]}
    assert _count(iw.database, provider_logins) == 0  # both relays spent


def test_browser_login_end_to_end(live: tuple[str, Interware, dict[str, str]],
                                  oidc_server: OidcServer) -> None:
    url, _, subs = live
    verifier = new_verifier()
    with httpx.Client() as browser:  # follows every redirect, fills the provider's forms, keeps cookies
        start = str(httpx.URL(f"{url}/api/auth/authorize", params=authorize_params(verifier)))
        back = query(oidc_server.browse(browser, start, subs["alice"], stop_at=PORTAL))
        assert back["state"] == "portal-state"
        tokens = browser.post(f"{url}/api/auth/token", data=token_request(back["code"], verifier))
        assert tokens.status_code == 200, tokens.text
        me = browser.get(f"{url}/api/auth/userinfo",
                         headers={"Authorization": f"Bearer {tokens.json()['access_token']}"}).json()
        assert (me["preferred_username"], me["dirac_group"]) == ("alice", "demo_user")
        # our code is spent, and useless without the portal's verifier anyway
        again = browser.post(f"{url}/api/auth/token", data=token_request(back["code"], verifier))
        assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


# -- through the app, with a clock the test moves ----------------------------------------------------


def _web(database: Database, clock: FakeClock, provider: OidcServer, subs: dict[str, str],
         **options: Any) -> TestClient:
    url = "http://testserver"
    config = oidc_config(database.url.render_as_string(hide_password=False), server_url=url,
                         issuer=provider.issuer, client=register(provider, url), subs=subs, **options)
    iw = Interware(config=config, database=database, clock=clock, hooks=make_plugin_manager(()))
    return TestClient(create_app(iw), follow_redirects=False)


def _browser_login(web: TestClient, provider: OidcServer, subject: str, scope: str = "vo:demo",
                   consent: bool = True) -> tuple[httpx.Response, str]:
    """The browser: our authorize -> the provider's pages -> our callback; its answer, and the verifier."""
    verifier = new_verifier()
    to_provider = web.get("/api/auth/authorize", params=authorize_params(verifier, scope))
    assert to_provider.status_code == 303, to_provider.text
    with httpx.Client() as browser:
        callback = provider.browse(browser, to_provider.headers["location"], subject,
                                   stop_at="http://testserver/", consent=consent)
    return web.get(callback.removeprefix("http://testserver")), verifier


def _device_token(web: TestClient, device_code: str) -> httpx.Response:
    return web.post("/api/auth/token", data={"grant_type": DEVICE_GRANT, "device_code": device_code,
                                             "client_id": "myDIRACClientID"})


def test_device_relay_polls_the_provider_at_its_pace(database: Database, clock: FakeClock,
                                                     oidc_server: OidcServer) -> None:
    subs = subjects("carol")
    oidc_server.add_account(subs["carol"], groups=["demo_user"])
    web = _web(database, clock, oidc_server, subs)
    started = web.post("/api/auth/device", params={"client_id": "myDIRACClientID", "scope": "vo:demo"})
    assert started.status_code == 200, started.text
    flow = started.json()
    assert flow["verification_uri"] == f"{oidc_server.issuer}/device"  # the provider's page and code
    assert flow["verification_uri_complete"] == f"{oidc_server.issuer}/device?user_code={flow['user_code']}"
    assert flow["interval"] == 5 and 0 < flow["expires_in"] <= 600
    assert _device_token(web, flow["device_code"]).json()["error"] == "authorization_pending"
    assert "Sign-in Success" in oidc_server.approve_device(flow["user_code"], subs["carol"])
    # approved, but the provider's interval has not passed: we do not ask it yet
    assert _device_token(web, flow["device_code"]).json()["error"] == "authorization_pending"
    clock.advance(5)
    answer = _device_token(web, flow["device_code"])
    assert answer.status_code == 200, answer.text
    me = web.get("/api/auth/userinfo", headers={"Authorization": f"Bearer {answer.json()['access_token']}"})
    assert me.json()["preferred_username"] == "carol"
    spent = _device_token(web, flow["device_code"])
    assert spent.status_code == 400 and spent.json()["error"] == "invalid_grant"
    # the server's own verification page points to the provider; its password form is refused
    assert "identity provider" in web.get("/api/auth/device").text
    refused = web.post("/api/auth/device/approve",
                       data={"user_code": "X", "username": "carol", "password": "x"})
    assert refused.status_code == 401


def test_unknown_subject_gets_no_token(database: Database, clock: FakeClock, oidc_server: OidcServer) -> None:
    subs = subjects("alice")
    stranger = f"stranger-{subs['alice']}"
    oidc_server.add_account(stranger, groups=["demo_user"])
    web = _web(database, clock, oidc_server, subs)
    flow = web.post("/api/auth/device", params={"client_id": "myDIRACClientID", "scope": "vo:demo"}).json()
    oidc_server.approve_device(flow["user_code"], stranger)
    refused = _device_token(web, flow["device_code"])
    assert refused.status_code == 403
    assert refused.json() == {"error": "access_denied",
                              "detail": f"the identity provider's user {stranger!r} is not registered here "
                                        "(no registry user has this sub); ask the administrators to add it"}
    page, _ = _browser_login(web, oidc_server, stranger)
    assert page.status_code == 403 and "is not registered here" in page.text
    assert _count(database, refresh_tokens) == _count(database, authorization_codes) == 0
    assert _count(database, provider_logins) == 0


def test_groups_come_from_the_provider_through_the_map(database: Database, clock: FakeClock,
                                                       oidc_server: OidcServer) -> None:
    subs = subjects("alice")
    oidc_server.add_account(subs["alice"], groups=["/demo/shared", "/unmapped"])
    web = _web(database, clock, oidc_server, subs,
               group_map={"/demo/users": "demo_user", "/demo/shared": "demo_shared"})
    # alice is in demo_user and demo_shared in the registry, the provider grants only demo_shared
    page, verifier = _browser_login(web, oidc_server, subs["alice"])
    assert page.status_code == 303, page.text
    back = query(page.headers["location"])
    assert page.headers["location"].startswith(f"{PORTAL}?") and back["state"] == "portal-state"
    tokens = web.post("/api/auth/token", data=token_request(back["code"], verifier)).json()
    me = web.get("/api/auth/userinfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}).json()
    assert me["dirac_group"] == "demo_shared"  # not the VO's default group, which the provider withholds
    # the group stays the login's one when the token is refreshed
    refreshed = web.post("/api/auth/token", data={"grant_type": "refresh_token",
                                                  "refresh_token": tokens["refresh_token"]}).json()
    me = web.get("/api/auth/userinfo",
                 headers={"Authorization": f"Bearer {refreshed['access_token']}"}).json()
    assert me["dirac_group"] == "demo_shared"
    page, _ = _browser_login(web, oidc_server, subs["alice"], scope="vo:demo group:demo_user")
    assert page.status_code == 403
    assert "does not put 'alice' in a group that maps to 'demo_user'" in html.unescape(page.text)


def test_the_person_says_no_at_the_provider(database: Database, clock: FakeClock,
                                            oidc_server: OidcServer) -> None:
    subs = subjects("alice")
    web = _web(database, clock, oidc_server, subs)
    page, _ = _browser_login(web, oidc_server, subs["alice"], consent=False)
    assert page.status_code == 303
    assert page.headers["location"] == f"{PORTAL}?error=access_denied&state=portal-state"
    assert _count(database, authorization_codes) == 0
    # the state was spent; an unknown one is refused
    for state in ("made-up", ""):
        answer = web.get("/api/auth/authorize/complete", params={"state": state, "code": "c"})
        assert answer.status_code == 400 and "unknown, used or expired login state" in answer.text


def test_provider_down_stores_nothing(database: Database, clock: FakeClock, tmp_path: Path) -> None:
    subs = subjects("alice")
    with oidc_provider(tmp_path) as doomed:
        web = _web(database, clock, doomed, subs, discovery_ttl=0)
        flow = web.post("/api/auth/device",
                        params={"client_id": "myDIRACClientID", "scope": "vo:demo"}).json()
    # the provider stopped: polling, starting and the browser all say so, and nothing is issued or kept
    polled = _device_token(web, flow["device_code"])
    assert polled.status_code == 503 and polled.json()["error"] == "temporarily_unavailable"
    assert polled.json()["detail"].startswith(f"the identity provider {doomed.issuer} cannot be reached")
    logins = _count(database, provider_logins)
    assert logins == 1  # the login in progress is kept: the provider may come back
    started = web.post("/api/auth/device", params={"client_id": "myDIRACClientID", "scope": "vo:demo"})
    assert started.status_code == 503 and "cannot be reached" in started.json()["detail"]
    page = web.get("/api/auth/authorize", params=authorize_params(new_verifier()))
    assert page.status_code == 503 and "cannot be reached" in page.text
    assert _count(database, provider_logins) == logins
    assert _count(database, refresh_tokens) == _count(database, authorization_codes) == 0


def test_the_client_secret_is_not_published(database: Database, clock: FakeClock) -> None:
    client = RegisteredClient("dirac", "the-client-secret", ())
    config = oidc_config(database.url.render_as_string(hide_password=False), server_url="http://testserver",
                         issuer="https://op.example.org", client=client, subs={})
    iw = Interware(config=config, database=database, clock=clock, hooks=make_plugin_manager(()))
    _, pair = iw.auth.issue("alice", vo="demo")
    web = TestClient(create_app(iw))
    answer = web.get("/api/config/", headers={"Authorization": f"Bearer {pair.access_token}"})
    assert answer.status_code == 200
    assert answer.json()["auth"]["identity_provider"]["client_id"] == "dirac"
    assert "the-client-secret" not in answer.text
    assert "the-client-secret" not in repr(iw.config)

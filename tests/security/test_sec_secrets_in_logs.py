"""A whole session through a live server, every logger at DEBUG: no secret in any log line.

The session logs in through the built-in device flow and the authorization-code flow, fails a
login, refreshes, replays a spent refresh token, revokes, sends bad and expired tokens, submits a
job and meets a database that refuses the connection. Then every secret it used is looked for in
every log record (SQL statements and their parameters included: SQLAlchemy logs them at INFO when
its logger is enabled), in what was printed, and in the answers of the failed calls.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from sec_helpers import (
    CLIENT,
    JDL,
    KEY_SECRET,
    PASSWORD,
    REDIRECT,
    WRONG_PASSWORD,
    bearer,
    device_login,
    refresh,
    sec_config,
)
from sec_logs import Everything, every_log_record
from sqlalchemy import make_url

from dirac_core.auth.codes import s256
from dirac_core.db import Database
from dirac_core.errors import DatabaseUnavailable
from dirac_core.interware import Interware
from dirac_core.model import FakeClock
from dirac_core.plugins.manager import make_plugin_manager
from dirac_server import create_app
from dirac_server.runner import running

#: the password of the database account of the unreachable database
DB_PASSWORD = "db-Passw0rd-" + secrets.token_hex(8)


@pytest.fixture
def live(iw: Interware) -> Iterator[tuple[httpx.Client, Everything]]:
    """A client of the app on loopback (uvicorn), and every log record from the first request on
    (the capture starts once uvicorn configured its loggers, or it would take them back)."""
    with running(create_app(iw)) as url, every_log_record() as records, \
            httpx.Client(base_url=url, timeout=30) as client:
        yield client, records


def _broken_database_url(database: Database) -> str:
    """A URL with a password whose connection fails: the backend's server with an unknown account,
    or, for SQLite (no password), a PostgreSQL port where nothing listens. (The app is built on
    PostgreSQL's URLs: on MariaDB the matcher connects when it is built, see below.)"""
    url = database.url
    account = {"username": "intruder_" + secrets.token_hex(4), "password": DB_PASSWORD}
    if url.get_backend_name() != "postgresql":
        url = make_url("postgresql+psycopg://127.0.0.1:1/dirac")
    return url.set(**account).render_as_string(hide_password=False)


def _code_login(client: httpx.Client, user: str, password: str) -> tuple[httpx.Response, str, str]:
    """The authorization-code flow with PKCE: the token answer, the code and its verifier."""
    verifier = secrets.token_urlsafe(48)
    form = {"client_id": CLIENT, "redirect_uri": REDIRECT, "code_challenge": s256(verifier),
            "code_challenge_method": "S256", "scope": "vo:demo", "state": "st4te",
            "response_type": "code"}
    assert client.get("/api/auth/authorize", params=form).status_code == 200
    form.pop("response_type")
    answer = client.post("/api/auth/authorize/approve", data={**form, "username": user, "password": password})
    assert answer.status_code == 303, answer.text
    code = parse_qs(urlparse(answer.headers["location"]).query)["code"][0]
    tokens = client.post("/api/auth/token", data={
        "grant_type": "authorization_code", "code": code, "client_id": CLIENT,
        "redirect_uri": REDIRECT, "code_verifier": verifier})
    return tokens, code, verifier


def _key_material(iw: Interware) -> list[str]:
    """The private parts of every signing key: JWK members and the lines of the PEM body."""
    found: list[str] = []
    for key in iw.auth.keys.key_set().keys:
        private = key.as_dict(private=True)
        found += [str(private[member]) for member in ("d", "p", "q", "dp", "dq", "qi")]
        pem = key.as_pem(private=True).decode().splitlines()
        found += [line for line in pem if line and not line.startswith("-----")]
    return found


def test_no_secret_in_any_log_or_answer(live: tuple[httpx.Client, Everything], iw: Interware,
                                        fake_clock: FakeClock, capfd: pytest.CaptureFixture[str]) -> None:
    client, records = live
    used: list[str] = [PASSWORD, WRONG_PASSWORD, KEY_SECRET, DB_PASSWORD]
    answers: list[str] = []  # the bodies of the calls that failed

    # a failed login (wrong password), then a good one, through the device flow
    flow = client.post("/api/auth/device", params={"client_id": CLIENT, "scope": "vo:demo"}).json()
    used.append(flow["device_code"])
    wrong = client.post("/api/auth/device/approve", data={
        "user_code": flow["user_code"], "username": "alice", "password": WRONG_PASSWORD})
    assert wrong.status_code == 401
    pending = client.post("/api/auth/token", data={
        "grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": flow["device_code"],
        "client_id": CLIENT})
    assert pending.status_code == 400 and pending.json()["error"] == "authorization_pending"
    answers += [wrong.text, pending.text]
    # a password, and a refresh token, too long for the form: the 422 does not repeat them
    too_long = {"password": PASSWORD * 50, "refresh_token": "x" + secrets.token_urlsafe(7000)}
    used += list(too_long.values())
    for field, value in too_long.items():
        route = "/api/auth/device/approve" if field == "password" else "/api/auth/token"
        answer = client.post(route, data={"user_code": flow["user_code"], "username": "alice",
                                          "grant_type": "refresh_token", field: value})
        assert answer.status_code == 422 and field in answer.text, answer.text
        answers.append(answer.text)
    first = device_login(client, "alice")
    used += [first["device_code"], first["access_token"], first["refresh_token"]]

    # the browser's flow, with a wrong password first
    refused = client.post("/api/auth/authorize/approve", data={
        "client_id": CLIENT, "redirect_uri": REDIRECT, "code_challenge": s256("x" * 43),
        "code_challenge_method": "S256", "scope": "vo:demo", "username": "bob", "password": WRONG_PASSWORD})
    assert refused.status_code == 401
    answers.append(refused.text)
    by_code, code, verifier = _code_login(client, "bob", PASSWORD)
    assert by_code.status_code == 200, by_code.text
    used += [code, verifier, by_code.json()["access_token"], by_code.json()["refresh_token"]]
    replayed_code = client.post("/api/auth/token", data={
        "grant_type": "authorization_code", "code": code, "client_id": CLIENT,
        "redirect_uri": REDIRECT, "code_verifier": verifier})
    assert replayed_code.status_code == 400
    answers.append(replayed_code.text)

    # refresh; replay the spent refresh token (the family is revoked); revoke another login
    second = refresh(client, first["refresh_token"])
    assert second.status_code == 200, second.text
    used += [second.json()["access_token"], second.json()["refresh_token"]]
    for token in (first["refresh_token"], second.json()["refresh_token"]):
        replay = refresh(client, token)
        assert replay.status_code == 401
        answers.append(replay.text)
    revoked = client.post("/api/auth/revoke", data={"token": by_code.json()["refresh_token"],
                                                    "client_id": CLIENT})
    assert revoked.status_code == 200
    after_revoke = refresh(client, by_code.json()["refresh_token"])
    assert after_revoke.status_code == 401
    answers.append(after_revoke.text)

    # a job, with a good token; then bad tokens: garbage, a refresh token, an expired token
    third = device_login(client, "alice")
    used += [third["device_code"], third["access_token"], third["refresh_token"]]
    submitted = client.post("/api/jobs/jdl", json=[JDL], headers=bearer(third["access_token"]))
    assert submitted.status_code == 201, submitted.text
    for token in ("garbage", "a.b.c", third["refresh_token"], third["access_token"][:-8] + "AAAAAAAA"):
        bad = client.get("/api/auth/userinfo", headers=bearer(token))
        assert bad.status_code == 401, bad.text
        answers.append(bad.text)
    fake_clock.advance(timedelta(hours=3))
    expired = client.post("/api/jobs/search", json={}, headers=bearer(third["access_token"]))
    assert expired.status_code == 401
    expired_refresh = refresh(client, third["refresh_token"])
    assert expired_refresh.status_code == 401
    answers += [expired.text, expired_refresh.text]

    # the database refuses the connection: the server answers 503, the password shows nowhere
    if iw.database.dialect == "mysql":
        wrong = iw.database.url.set(username="intruder_" + secrets.token_hex(4), password=DB_PASSWORD)
        with pytest.raises(DatabaseUnavailable) as caught:
            Interware(config=sec_config(wrong.render_as_string(hide_password=False), catalog=False),
                      database=Database(wrong), clock=fake_clock, hooks=make_plugin_manager(()))
        assert "Access denied" in str(caught.value)
        answers += [str(caught.value), repr(caught.value.fields)]
    url = _broken_database_url(iw.database)
    broken = Interware(config=sec_config(url, catalog=False), database=Database(url, connect_timeout=3),
                       clock=fake_clock, hooks=make_plugin_manager(()))
    try:
        with running(create_app(broken)) as broken_url, \
                httpx.Client(base_url=broken_url, timeout=30) as other:
            for answer in (other.post("/api/auth/device", params={"client_id": CLIENT, "scope": "vo:demo"}),
                           other.get("/api/auth/userinfo", headers=bearer(third["access_token"]))):
                assert answer.status_code in (401, 503), answer.text
                answers.append(answer.text)
    finally:
        broken.database.close()

    used += _key_material(iw)
    logged = records.text
    printed = "".join(capfd.readouterr())
    assert "POST /api/auth/token" in logged or "/api/auth/token" in logged  # httpx logged the calls
    assert "auth_refresh_tokens" in logged  # and SQLAlchemy its statements
    leaks = [_where(piece, kind, text) for secret in used for piece in _pieces(secret)
             for kind, text in (("logs", logged), ("output", printed), ("answers", "\n".join(answers)))
             if piece in text]
    # one exception: the authorization code travels in the redirect's Location, the channel OAuth
    # defines for it, and the browser's side (httpcore, here) logs response headers at DEBUG; the
    # code is single-use, lives 5 minutes and is worthless without the PKCE verifier
    redirect = f"(b'location', b'{REDIRECT}?code={code}&state=st4te')"
    leaks = [leak for leak in leaks if not (leak.startswith("logs: httpcore.") and
                                            redirect.replace(code, f"<{code[:6]}...>") in leak)]
    assert not leaks, json.dumps(leaks, indent=1)
    assert verifier not in logged


def _pieces(secret: str) -> list[str]:
    """``secret`` and, if it is long, each 32-character piece of it and of its parts (a token's
    signature): a log that cuts long values short (SQLAlchemy's parameters) still shows a piece."""
    pieces = [secret]
    for part in secret.split("."):
        pieces += [part[i:i + 32] for i in range(0, len(part) - 31, 32)] if len(part) > 64 else []
    return pieces


def _where(secret: str, kind: str, text: str) -> str:
    """Where ``secret`` was found: the line around it, the secret itself masked."""
    at = text.index(secret)
    start, end = text.rfind("\n", 0, at) + 1, text.find("\n", at)
    line = text[start:end if end >= 0 else len(text)].replace(secret, f"<{secret[:6]}...>")
    return f"{kind}: {line[:300]}"


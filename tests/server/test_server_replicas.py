"""Two replicas of the server on one database: any request may land on either.

Each replica is its own :class:`Interware` with its own :class:`Database` (its own engine and
connection pool) on the same URL, so nothing but the database is shared: a login started on one
replica finishes on the other, tokens signed by one are accepted by the other, jobs submitted through
one are matched and updated through the other, and a key rotated on one is used by both.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from server_helpers import PASSWORD, server_config
from server_job_helpers import JDL, RESOURCE, stamp, visible

from dirac_core.db import Database
from dirac_core.interware import Interware
from dirac_core.model import FakeClock
from dirac_core.plugins.manager import make_plugin_manager
from dirac_server import ServerSettings, create_app

DEVICE = "urn:ietf:params:oauth:grant-type:device_code"


@pytest.fixture
def replicas(database: Database, fake_clock: FakeClock,
             tmp_path: Path) -> Iterator[tuple[TestClient, TestClient]]:
    """Two apps, each on its own engine over the test database, sharing a sandbox folder."""
    url = database.url.render_as_string(hide_password=False)
    other = Database(url)
    settings = ServerSettings(sandbox_dir=str(tmp_path / "sandboxes"))
    apps = []
    for db in (database, other):
        iw = Interware(config=server_config(url), database=db, clock=fake_clock,
                       hooks=make_plugin_manager(()))
        apps.append(create_app(iw, settings))
    try:
        with TestClient(apps[0]) as one, TestClient(apps[1]) as two:
            yield one, two
    finally:
        other.close()


def _login(start: TestClient, finish: TestClient) -> dict[str, str]:
    """The device flow begun on ``start``, approved and polled on ``finish``: the token pair."""
    flow = start.post("/api/auth/device", params={"client_id": "myDIRACClientID",
                                                  "scope": "vo:demo"}).json()
    approved = finish.post("/api/auth/device/approve", data={
        "user_code": flow["user_code"], "username": "alice", "password": PASSWORD})
    assert approved.status_code == 200, approved.text
    tokens = start.post("/api/auth/token", data={
        "grant_type": DEVICE, "device_code": flow["device_code"], "client_id": "myDIRACClientID"})
    assert tokens.status_code == 200, tokens.text
    pair: dict[str, str] = tokens.json()
    return pair


def test_login_tokens_and_refresh_work_across_replicas(
        replicas: tuple[TestClient, TestClient]) -> None:
    one, two = replicas
    pair = _login(one, two)
    me = two.get("/api/auth/userinfo", headers={"Authorization": f"Bearer {pair['access_token']}"})
    assert me.status_code == 200 and me.json()["preferred_username"] == "alice"
    refresh = {"grant_type": "refresh_token", "refresh_token": pair["refresh_token"],
               "client_id": "myDIRACClientID"}
    renewed = two.post("/api/auth/token", data=refresh)
    assert renewed.status_code == 200, renewed.text
    # the old refresh token was rotated away on replica two: replaying it on replica one fails
    replayed = one.post("/api/auth/token", data=refresh)
    assert replayed.status_code == 401 and replayed.json()["error"] == "invalid_grant", replayed.text
    # ... and the replay revoked the whole family, also the token replica two just issued
    again = {**refresh, "refresh_token": renewed.json()["refresh_token"]}
    assert one.post("/api/auth/token", data=again).status_code == 401


def test_jobs_submitted_on_one_replica_are_matched_and_updated_on_the_other(
        replicas: tuple[TestClient, TestClient], auth: object, fake_clock: FakeClock) -> None:
    one, two = replicas
    alice = auth("alice")  # type: ignore[operator]
    admin = auth("admin", group="demo_admin")  # type: ignore[operator]
    pilot = auth("pilot", group="demo_pilot")  # type: ignore[operator]
    inserted = one.post("/api/jobs/jdl", json=[JDL] * 3, headers=alice)
    assert inserted.status_code == 201, inserted.text
    ids = sorted(job["JobID"] for job in inserted.json())
    assert sorted(visible(two, alice)) == ids
    matched = [two.post("/api/jobs/match", json=RESOURCE, headers=pilot) for _ in ids]
    assert all(answer.status_code == 200 for answer in matched), [a.text for a in matched]
    assert sorted(answer.json()["JobID"] for answer in matched) == ids
    assert one.post("/api/jobs/match", json=RESOURCE, headers=pilot).status_code == 204
    when = stamp(fake_clock)
    update = {str(job): {when: {"Status": "Running", "Source": "JobWrapper"}} for job in ids}
    assert one.patch("/api/jobs/status", json=update, headers=admin).status_code == 200
    assert {row["Status"] for row in visible(two, alice).values()} == {"Running"}


def test_a_key_rotated_on_one_replica_signs_and_verifies_on_both(
        replicas: tuple[TestClient, TestClient], fake_clock: FakeClock) -> None:
    one, two = replicas
    before = {key["kid"] for key in two.get("/.well-known/jwks.json").json()["keys"]}
    old_pair = _login(one, one)
    kid = one.app.state.interware.auth.keys.rotate()  # type: ignore[attr-defined]
    fake_clock.advance(61)  # past the other replica's one-minute key cache
    published = {key["kid"] for key in two.get("/.well-known/jwks.json").json()["keys"]}
    assert kid in published and before <= published  # the retired key still verifies
    new_pair = _login(two, two)
    for pair in (old_pair, new_pair):
        headers = {"Authorization": f"Bearer {pair['access_token']}"}
        assert one.get("/api/auth/userinfo", headers=headers).status_code == 200
        assert two.get("/api/auth/userinfo", headers=headers).status_code == 200

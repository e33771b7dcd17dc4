"""``/api/status``: the resource status system through the real app, on every backend.

Anyone with a token reads every status (statuses belong to no VO: a row for one VO is read by
all); ``status.change`` (ServiceAdministrator, Operator) sets and releases them, as its caller;
bad input is a 4xx naming the parameter, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_tfs_helpers import SERVICE, STRANGER, TFS_GRID, USER, bearer

from dirac_core.config import load_config
from dirac_core.db import Database
from dirac_core.interware import Interware
from dirac_core.model import FakeClock
from dirac_core.plugins.manager import make_plugin_manager
from dirac_core.rss.wire import entry_from_json, record_from_json
from dirac_server import create_app

#: the transformation tests' grid, plus operators in both VOs, a CE with a queue (its name holds a
#: "/"), and a CE named like its site (a name two element types share)
GRID = TFS_GRID + """
[registry.groups.demo_operator]
name = "demo_operator"
vo = "demo"
users = ["bob"]
properties = ["NormalUser", "Operator"]

[registry.groups.other_operator]
name = "other_operator"
vo = "other"
users = ["olga"]
properties = ["Operator"]

[[resources.sites.DIRAC."DIRAC.A.ch".ces]]
type = "memory"
name = "ce-a"
[resources.sites.DIRAC."DIRAC.A.ch".ces.queues.q1]
name = "q1"

[[resources.sites.DIRAC."DIRAC.C.it".ces]]
type = "memory"
name = "DIRAC.C.it"
"""

OPERATOR = ("bob", "demo", "demo_operator")
OTHER_OPERATOR = ("olga", "other", "other_operator")
QUEUE = "ce-a/q1"
NOW = datetime(2026, 1, 1, tzinfo=UTC)  # the fake clock's start


@pytest.fixture
def iw(database: Database, fake_clock: FakeClock) -> Interware:
    """The grid above on the backend under test, with the fake clock."""
    url = database.url.render_as_string(hide_password=False)
    config = load_config(f'{GRID}\n[database]\nurl = "{url}"\n\n[auth]\nissuer = "http://testserver"\n',
                         format="toml")
    return Interware(config=config, database=database, clock=fake_clock, hooks=make_plugin_manager(()))


@pytest.fixture
def client(iw: Interware) -> Iterator[TestClient]:
    """A test client of the app."""
    with TestClient(create_app(iw)) as test_client:
        yield test_client


def _ok(answer: Any) -> Any:
    assert answer.status_code == 200, answer.text
    return answer.json()


def _set(client: TestClient, iw: Interware, who: tuple[str, str, str], name: str, **body: Any) -> Any:
    return client.post(f"/api/status/{name}", headers=bearer(iw, who), json={"reason": "test", **body})


def test_anyone_with_a_token_reads_every_status(client: TestClient, iw: Interware) -> None:
    iw.status.set_status("SE-A", "Banned", status_type="WriteAccess", reason="disk replaced", owner="sam")
    iw.status.set_status(QUEUE, "Degraded", reason="slow", owner="rss")
    iw.status.set_status("DIRAC.B.fr", "Probing", reason="demo only", owner="sam", vo="demo")
    everything = _ok(client.get("/api/status", headers=bearer(iw, USER)))
    # the answer is the engine's records, in key order, and the shape of `status list --json`
    assert [record_from_json(r) for r in everything] == iw.status.statuses()
    rows = {r["name"]: r for r in everything}
    assert [(r["element_type"], r["name"], r["status_type"], r["vo"], r["status"], r["token_owner"])
            for r in everything] == [  # key order: element type, name, status type, VO
        ("Queue", QUEUE, "all", "all", "Degraded", "rss"),
        ("Site", "DIRAC.B.fr", "all", "demo", "Probing", "sam"),
        ("StorageElement", "SE-A", "WriteAccess", "all", "Banned", "sam")]
    assert rows["SE-A"]["token_expiration"] == "2026-01-02T00:00:00Z"  # the default token_lifetime
    assert rows[QUEUE]["token_expiration"] is None  # the policies' own
    assert set(rows["SE-A"]) == {"element_type", "name", "status_type", "vo", "status", "reason",
                                 "date_effective", "last_check", "token_owner", "token_expiration"}
    # statuses are no VO's: another VO reads the same rows, the demo-only one included
    assert _ok(client.get("/api/status", headers=bearer(iw, STRANGER))) == everything
    pilot = bearer(iw, ("pilot", "demo", "demo_pilot"))
    assert _ok(client.get("/api/status", headers=pilot)) == everything

    def names(**params: Any) -> list[str]:
        return [r["name"] for r in _ok(client.get("/api/status", headers=bearer(iw, USER), params=params))]

    assert names(element_type="Queue") == [QUEUE]
    assert names(name="SE-A") == ["SE-A"]
    assert names(status_type="WriteAccess") == ["SE-A"]
    assert names(status=["Banned", "Degraded"]) == [QUEUE, "SE-A"]
    assert names(name="Nowhere") == []

    shown = _ok(client.get(f"/api/status/{QUEUE}", headers=bearer(iw, USER)))
    assert shown["element"] == {"element_type": "Queue", "name": QUEUE, "site": "DIRAC.A.ch", "ce": "ce-a",
                                "status_types": ["all"]}
    assert [r["status"] for r in shown["statuses"]] == ["Degraded"]
    assert [(e["previous"], e["status"], e["owner"]) for e in shown["history"]] == [(None, "Degraded", "rss")]
    se = _ok(client.get("/api/status/SE-A", headers=bearer(iw, USER),
                        params={"element_type": "StorageElement", "limit": 0}))
    assert se["element"]["status_types"] == ["ReadAccess", "WriteAccess", "CheckAccess", "RemoveAccess"]
    assert [r["status_type"] for r in se["statuses"]] == ["WriteAccess"] and se["history"] == []

    history = _ok(client.get("/api/status/history", headers=bearer(iw, STRANGER)))
    assert [entry_from_json(e) for e in history] == iw.status.history()
    assert [e["name"] for e in history] == ["SE-A", QUEUE, "DIRAC.B.fr"]  # oldest first
    assert [e["name"] for e in _ok(client.get("/api/status/history", headers=bearer(iw, USER),
                                              params={"limit": 2}))] == [QUEUE, "DIRAC.B.fr"]
    assert [e["name"] for e in _ok(client.get("/api/status/history", headers=bearer(iw, USER),
                                              params={"name": QUEUE}))] == [QUEUE]
    assert [e["name"] for e in _ok(client.get("/api/status/history", headers=bearer(iw, USER),
                                              params={"element_type": "Site"}))] == ["DIRAC.B.fr"]


@pytest.mark.parametrize(("method", "path"), [("GET", "/api/status"), ("GET", "/api/status/history"),
                                              ("GET", f"/api/status/{QUEUE}"), ("POST", "/api/status/SE-A"),
                                              ("DELETE", "/api/status/SE-A")])
def test_no_token_is_401(client: TestClient, iw: Interware, method: str, path: str) -> None:
    answer = client.request(method, path, json={"status": "Banned", "reason": "x"})
    assert answer.status_code == 401 and answer.headers["www-authenticate"] == "Bearer"
    assert iw.status.statuses() == []


@pytest.mark.parametrize("path", ["/api/status/Nowhere", "/api/status/ce-a/q9",
                                  "/api/status/history?name=Nowhere"])
def test_an_unknown_element_is_404(client: TestClient, iw: Interware, path: str) -> None:
    answer = client.get(path, headers=bearer(iw, USER))
    assert answer.status_code == 404, answer.text
    assert "in the configuration" in answer.json()["detail"]
    assert answer.json()["error"]["type"] == "NotFound"


def test_setting_and_releasing_need_status_change(client: TestClient, iw: Interware,
                                                  fake_clock: FakeClock) -> None:
    for who in (USER, STRANGER):
        refused = _set(client, iw, who, "SE-A", status="Banned")
        assert refused.status_code == 403, refused.text
        assert "may not change resource statuses (needs ServiceAdministrator or Operator)" in \
            refused.json()["detail"]
    assert _set(client, iw, USER, "Nowhere", status="Banned").status_code == 403  # refused before looking
    assert iw.status.statuses() == [] and iw.status.history() == []

    made = _ok(_set(client, iw, SERVICE, "SE-A", status="Banned", status_type="WriteAccess", seconds=7200,
                    reason="disk replaced"))
    assert [(r["status_type"], r["status"], r["token_owner"], r["reason"], r["token_expiration"])
            for r in made] == [("WriteAccess", "Banned", "sam", "disk replaced", "2026-01-01T02:00:00Z")]
    assert [record_from_json(r) for r in made] == iw.status.statuses(name="SE-A")
    assert str(iw.status.status_of("SE-A", "WriteAccess")) == "Banned"
    # an operator of another VO sets a queue's status, until a time given with its zone
    queue = _ok(_set(client, iw, OTHER_OPERATOR, QUEUE, status="Probing", until="2026-01-01T05:00:00+02:00"))
    assert [(r["name"], r["token_owner"], r["token_expiration"]) for r in queue] == [
        (QUEUE, "olga", "2026-01-01T03:00:00Z")]
    # every status type of the element unless one is given; a row for one VO
    both = _ok(_set(client, iw, OPERATOR, "SE-B-disk", status="Degraded", vo="demo"))
    assert [(r["status_type"], r["vo"], r["token_owner"]) for r in both] == [
        (t, "demo", "bob") for t in ("CheckAccess", "ReadAccess", "RemoveAccess", "WriteAccess")]
    assert str(iw.status.status_of("SE-B-disk", "ReadAccess", vo="demo")) == "Degraded"
    assert iw.status.status_of("SE-B-disk", "ReadAccess") is None

    refused = client.delete("/api/status/SE-A", headers=bearer(iw, USER))
    assert refused.status_code == 403, refused.text
    assert iw.status.statuses(name="SE-A")[0].token_owner == "sam"
    fake_clock.advance(timedelta(minutes=5))
    released = _ok(client.delete("/api/status/SE-A", headers=bearer(iw, OPERATOR)))
    assert released == [{"element_type": "StorageElement", "name": "SE-A", "status_type": "WriteAccess",
                         "vo": "all"}]
    [record] = iw.status.statuses(name="SE-A")
    assert (record.status, record.token_owner, record.token_expiration) == ("Banned", "rss", None)
    assert iw.status.history("SE-A")[-1].reason == "status of sam released by bob"
    assert _ok(client.delete("/api/status/SE-A", headers=bearer(iw, OPERATOR))) == []  # nothing held now
    assert _ok(client.delete(f"/api/status/{QUEUE}", headers=bearer(iw, SERVICE))) == [
        {"element_type": "Queue", "name": QUEUE, "status_type": "all", "vo": "all"}]
    # only the VO's row named is released
    assert _ok(client.delete("/api/status/SE-B-disk", headers=bearer(iw, SERVICE),
                             params={"status_type": "ReadAccess"})) == []
    assert len(_ok(client.delete("/api/status/SE-B-disk", headers=bearer(iw, SERVICE),
                                 params={"status_type": "ReadAccess", "vo": "demo"}))) == 1


BAD_SETS = [
    ({"status": "Asleep"}, 422, "status"),
    ({"status": "Banned", "status_type": "Sometimes"}, 422, "status_type"),
    ({"status": "Banned", "element_type": "Planet"}, 422, "element_type"),
    ({"status": "Banned", "seconds": 0}, 422, "seconds"),
    ({"status": "Banned", "seconds": 1e300}, 422, "seconds"),
    ({"status": "Banned", "until": "tomorrow"}, 422, "until"),
    ({"status": "Banned", "vo": ""}, 422, "vo"),
    ({"status": "Banned", "reason": "x\x00y"}, 422, "reason"),
    ({"status": "Banned", "hours": 2}, 422, "hours"),
    ({"status": "Banned", "status_type": "all"}, 400, "status_type"),
    ({"status": "Banned", "until": "2026-01-02T00:00:00"}, 400, "until"),
    ({"status": "Banned", "until": "2025-12-31T00:00:00Z"}, 400, "until"),
    ({"status": "Banned", "until": "9999-12-31T23:00:00-05:00"}, 400, "until"),
    ({"status": "Banned", "until": "2026-01-02T00:00:00Z", "seconds": 60}, 400, "until"),
]


@pytest.mark.parametrize(("body", "code", "parameter"), BAD_SETS, ids=[str(b) for b, _, _ in BAD_SETS])
def test_a_bad_change_is_refused_naming_the_parameter(client: TestClient, iw: Interware, body: dict[str, Any],
                                                      code: int, parameter: str) -> None:
    answer = _set(client, iw, SERVICE, "SE-A", **body)
    assert answer.status_code == code, answer.text
    if code == 422:
        assert [e["loc"] for e in answer.json()["detail"]] == [["body", parameter]]
    else:
        assert answer.json()["error"]["fields"] == {"parameter": parameter}
        assert parameter.replace("_", " ") in answer.json()["detail"].replace("_", " ")
    assert iw.status.statuses() == [] and iw.status.history() == []


@pytest.mark.parametrize(("method", "path", "code", "parameter"), [
    ("GET", "/api/status?element_type=Planet", 422, "element_type"),
    ("GET", "/api/status?status=Asleep", 422, "status"),
    ("GET", "/api/status/history?limit=0", 422, "limit"),
    ("GET", "/api/status/history?limit=10001", 422, "limit"),
    ("GET", "/api/status/DIRAC.C.it", 400, "element_type"),
    ("GET", "/api/status/history?name=DIRAC.C.it", 400, "element_type"),
    ("DELETE", "/api/status/SE-A?status_type=all", 400, "status_type"),
    ("DELETE", "/api/status/DIRAC.C.it", 400, "element_type"),
])
def test_a_bad_query_is_refused_naming_the_parameter(client: TestClient, iw: Interware, *, method: str,
                                                     path: str, code: int, parameter: str) -> None:
    answer = client.request(method, path, headers=bearer(iw, SERVICE))
    assert answer.status_code == code, answer.text
    if code == 422:
        assert [e["loc"][:2] for e in answer.json()["detail"]] == [["query", parameter]]
    else:
        assert answer.json()["error"]["fields"]["parameter"] == parameter
        assert parameter.replace("_", " ") in answer.json()["detail"].replace("_", " ")


def test_a_shared_name_is_reached_with_its_type(client: TestClient, iw: Interware) -> None:
    site = _ok(client.get("/api/status/DIRAC.C.it", headers=bearer(iw, USER),
                          params={"element_type": "Site"}))
    assert site["element"]["element_type"] == "Site"
    made = _ok(_set(client, iw, SERVICE, "DIRAC.C.it", status="Banned", element_type="ComputingElement"))
    assert [(r["element_type"], r["status"]) for r in made] == [("ComputingElement", "Banned")]
    assert iw.status.status_of("DIRAC.C.it", element_type="Site") is None


def test_a_manual_status_expires_and_goes_back_to_the_policies(client: TestClient, iw: Interware,
                                                               fake_clock: FakeClock) -> None:
    _ok(_set(client, iw, OPERATOR, "DIRAC.A.ch", status="Banned", seconds=600))
    fake_clock.advance(timedelta(minutes=9))
    assert iw.status.expire_overrides() == []
    fake_clock.advance(timedelta(minutes=1))
    assert len(iw.status.expire_overrides()) == 1
    [row] = _ok(client.get("/api/status", headers=bearer(iw, USER), params={"name": "DIRAC.A.ch"}))
    assert (row["status"], row["token_owner"], row["token_expiration"]) == ("Banned", "rss", None)
    assert _ok(client.get("/api/status/history", headers=bearer(iw, USER)))[-1]["reason"] == \
        "status of bob expired"
    assert datetime.fromisoformat(row["date_effective"]) == NOW  # the status did not change

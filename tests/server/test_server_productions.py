"""``/api/productions``: a production manager defines a chain of two steps, starts it and follows
its progress over HTTP; its VO reads it, other VOs do not see it; bad definitions are refused."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_tfs_helpers import LFNS, MANAGER, SERVICE, STRANGER, USER, bearer, register, tfs_config

from dirac_core.db import Database
from dirac_core.interware import Interware
from dirac_core.model import FakeClock
from dirac_core.plugins.manager import make_plugin_manager
from dirac_server import create_app

API = "/api/productions"
COPY = {"name": "copy", "type": "Replication", "group_size": 1, "parameters": {"TargetSE": "SE-B-disk"},
        "input_query": {"step": "raw"}, "output_query": {"step": "copied"}}
REMOVE = {"name": "remove", "type": "Removal", "body": "x;RemoveFile", "parents": ["copy"],
          "input_query": {"step": "copied"}}


def _chain(name: str = "chain", **overrides: Any) -> dict[str, Any]:
    return {"name": name, "description": "copy, then remove", "steps": [COPY, REMOVE], **overrides}


@pytest.fixture
def iw(database: Database, fake_clock: FakeClock) -> Interware:
    """The transformation grid (with an SQL catalog and a ``step`` file field) on the backend under test."""
    url = database.url.render_as_string(hide_password=False)
    made = Interware(config=tfs_config(url), database=database, clock=fake_clock,
                     hooks=make_plugin_manager(()))
    assert made.catalog is not None
    made.catalog.add_metadata_field("step", "string", for_files=True)
    return made


@pytest.fixture
def client(iw: Interware) -> Iterator[TestClient]:
    """A test client of the app."""
    with TestClient(create_app(iw)) as test_client:
        yield test_client


def test_a_manager_defines_starts_and_follows_a_production(client: TestClient, iw: Interware) -> None:
    manager = bearer(iw, MANAGER)
    made = client.post(API, json=_chain(), headers=manager)
    assert made.status_code == 201, made.text
    production = made.json()
    pid = production["production_id"]
    assert (production["name"], production["description"], production["status"], production["author"],
            production["vo"], production["transformations"]) == (
        "chain", "copy, then remove", "New", "carol", "demo", [None, None])
    assert [(s["name"], s["parents"], s["group_size"]) for s in production["steps"]] == [
        ("copy", [], 1), ("remove", ["copy"], None)]
    assert client.get(f"{API}/chain", headers=bearer(iw, USER)).json() == production
    assert [p["production_id"] for p in client.get(API, headers=bearer(iw, USER)).json()] == [pid]
    before = client.get(f"{API}/{pid}/progress", headers=manager).json()
    assert [(s["step"], s["transformation_id"], s["stats"]) for s in before["steps"]] == [
        ("copy", None, None), ("remove", None, None)]

    started = client.post(f"{API}/{pid}/start", headers=manager)
    assert started.status_code == 200, started.text
    copy_id, remove_id = started.json()["transformations"]
    assert started.json()["status"] == "Active"
    made_for_it = client.get(f"{API.replace('productions', 'transformations')}/{copy_id}", headers=manager)
    assert made_for_it.json()["name"] == f"{pid:08d}_copy" and made_for_it.json()["status"] == "Active"

    register(iw)
    assert iw.catalog is not None
    iw.catalog.set_metadata({lfn: {"step": "raw"} for lfn in LFNS}).raise_for_failures()
    iw.transformations.scan_input_queries()   # the server's periodic work attaches them
    progress = client.get(f"{API}/chain/progress", headers=manager).json()
    assert [(s["step"], s["transformation_id"], s["status"]) for s in progress["steps"]] == [
        ("copy", copy_id, "Active"), ("remove", remove_id, "Active")]
    assert progress["steps"][0]["stats"]["files"] == {"Unused": 3}
    assert (progress["files"], progress["processed_percent"]) == ({"Unused": 3}, 0.0)

    for action, status in (("stop", "Stopped"), ("start", "Active"), ("flush", "Flush"),
                           ("complete", "Completed"), ("clean", "Cleaned")):
        answer = client.post(f"{API}/{pid}/{action}", headers=bearer(iw, ("dave", "demo", "demo_prod")))
        assert (answer.status_code, answer.json()["status"]) == (200, status), answer.text
    assert iw.transformations.get(copy_id).status == "TransformationCleaned"
    again = client.post(f"{API}/{pid}/start", headers=manager)
    assert again.status_code == 409 and again.json()["error"]["type"] == "InvalidTransition"


def test_who_may_read_and_change_a_production(client: TestClient, iw: Interware) -> None:
    pid = client.post(API, json=_chain(), headers=bearer(iw, MANAGER)).json()["production_id"]
    user, stranger, service = bearer(iw, USER), bearer(iw, STRANGER), bearer(iw, SERVICE)
    assert client.post(API, json=_chain("mine"), headers=user).status_code == 403
    assert client.post(f"{API}/{pid}/start", headers=user).status_code == 403
    assert client.get(f"{API}/{pid}/progress", headers=user).status_code == 200
    for path in (f"{API}/{pid}", f"{API}/chain", f"{API}/{pid}/progress"):
        missing = client.get(path, headers=stranger)
        assert missing.status_code == 404 and missing.json()["error"]["type"] == "NotFound", path
    assert client.post(f"{API}/{pid}/start", headers=stranger).status_code == 404
    assert client.get(API, headers=stranger).json() == []
    # a service administrator changes productions, but the first start creates the transformations
    refused = client.post(f"{API}/{pid}/start", headers=service)
    assert refused.status_code == 403 and "may not start production 'chain'" in refused.json()["detail"]
    assert "needs ProductionManagement" in refused.json()["detail"]
    assert iw.productions.get(pid).status == "New"


@pytest.mark.parametrize(("body", "status", "words"), [
    (_chain(steps=[COPY, {**REMOVE, "input_query": {"step": "other"}}]), 400,
     "step 'remove' does not follow"),
    (_chain(steps=[{**COPY, "plugin": "Teleport"}]), 400, "step 'copy': plugin: no plugin 'Teleport'"),
    (_chain(steps=[{**COPY, "name": "two words"}]), 400, "'name' must match regex"),
    (_chain(steps=[{**COPY, "colour": "red"}]), 400, "unknown key(s) colour @ production.steps[0]"),
    (_chain(steps="copy"), 400, "production.steps"),
    (_chain(steps=[]), 400, "at least one step"),
    (_chain(steps=[{"name": f"s{i}", "type": "Removal"} for i in range(101)]), 400,
     "at most 100 steps per production, got 101"),
    ({"steps": [COPY]}, 400, "required key missing @ production.name"),
    (_chain(name=""), 400, "Length of 'name' must be >= 1"),
    ([COPY], 400, "a production is a JSON object, not list"),
])
def test_a_bad_definition_is_refused_with_the_reason(client: TestClient, iw: Interware, body: Any,
                                                     status: int, words: str) -> None:
    answer = client.post(API, json=body, headers=bearer(iw, MANAGER))
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["type"] == "InvalidTransformation" and words in answer.json()["detail"]
    assert iw.productions.productions() == []


def test_malformed_bodies_names_in_use_and_unknown_productions(client: TestClient, iw: Interware) -> None:
    manager = bearer(iw, MANAGER)
    garbled = client.post(API, content=b"[", headers={**manager, "Content-Type": "application/json"})
    assert garbled.status_code == 422 and "JSON decode error" in garbled.text
    assert client.post(API, json=_chain(), headers=manager).status_code == 201
    taken = client.post(API, json=_chain(), headers=manager)
    assert taken.status_code == 409 and taken.json()["error"]["type"] == "AlreadyExists"
    assert client.get(f"{API}/nope", headers=manager).status_code == 404
    assert client.get(f"{API}/424242/progress", headers=manager).status_code == 404
    assert client.post(f"{API}/nope/stop", headers=manager).status_code == 404
    assert client.post(f"{API}/chain/pause", headers=manager).status_code == 422

"""``/api/transformations``: a production manager creates, feeds, starts and follows a
transformation over HTTP; its VO reads it; other VOs do not see it; bad specs and bodies are
refused with the key at fault."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_tfs_helpers import LFNS, MANAGER, SERVICE, STRANGER, USER, bearer, copy_spec, register, tfs_config

from dirac_core.db import Database
from dirac_core.interware import Interware
from dirac_core.model import FakeClock
from dirac_core.plugins.manager import make_plugin_manager
from dirac_server import ServerSettings, create_app

API = "/api/transformations"


@pytest.fixture
def iw(database: Database, fake_clock: FakeClock) -> Interware:
    """The transformation grid (with an SQL catalog) on the backend under test."""
    url = database.url.render_as_string(hide_password=False)
    return Interware(config=tfs_config(url), database=database, clock=fake_clock,
                     hooks=make_plugin_manager(()))


@pytest.fixture
def client(iw: Interware) -> Iterator[TestClient]:
    """A test client of the app (body limit 64 KiB, as the other server tests)."""
    with TestClient(create_app(iw, ServerSettings(max_body_bytes=64 * 1024))) as test_client:
        yield test_client


def _error(answer: Any) -> dict[str, Any]:
    error: dict[str, Any] = answer.json()["error"]
    return error


def test_a_manager_creates_feeds_starts_and_follows_a_transformation(client: TestClient, iw: Interware
                                                                     ) -> None:
    register(iw)
    manager = bearer(iw, MANAGER)
    made = client.post(API, json=copy_spec(), headers=manager)
    assert made.status_code == 201, made.text
    record = made.json()
    tid = record["transformation_id"]
    assert {k: record[k] for k in ("name", "type", "status", "agent_type", "plugin", "group_size",
                                   "parameters", "author", "author_group", "vo", "last_task_id")} == {
        "name": "copy", "type": "Replication", "status": "New", "agent_type": "Manual", "plugin": "Standard",
        "group_size": 2, "parameters": {"TargetSE": "SE-B-disk"}, "author": "carol",
        "author_group": "demo_prod", "vo": "demo", "last_task_id": 0}
    assert client.get(f"{API}/copy", headers=manager).json() == record
    assert client.get(f"{API}/{tid}", headers=bearer(iw, USER)).json() == record  # the VO reads it

    added = client.post(f"{API}/copy/files", json=[*LFNS, "relative/x", 7], headers=manager).json()
    assert added["ok"] == dict.fromkeys(LFNS, "Added")
    assert {k: v["type"] for k, v in added["failed"].items()} == {"relative/x": "InvalidLFN",
                                                                  "7": "InvalidLFN"}
    again = client.post(f"{API}/{tid}/files", json=[LFNS[0]], headers=manager).json()
    assert again == {"ok": {LFNS[0]: "Present"}, "failed": {}}

    started = client.post(f"{API}/copy/start", headers=manager)
    assert started.status_code == 200, started.text
    assert (started.json()["status"], started.json()["agent_type"]) == ("Active", "Automatic")
    iw.transformations.split(tid)          # the server's periodic work: one task of two files
    iw.transformations.submit_tasks(tid)

    [task] = client.get(f"{API}/{tid}/tasks", headers=manager).json()
    assert (task["task_id"], task["status"], task["lfns"], task["target_ses"]) == (
        1, "Submitted", LFNS[:2], ["SE-A"])
    assert client.get(f"{API}/{tid}/tasks", params={"status": "Created"}, headers=manager).json() == []
    unused = client.get(f"{API}/{tid}/files", params={"status": "Unused"}, headers=manager).json()
    assert [(f["lfn"], f["status"], f["task_id"]) for f in unused] == [(LFNS[2], "Unused", None)]
    pages = [client.get(f"{API}/{tid}/files", params={"page": p, "per_page": 2}, headers=manager).json()
             for p in (1, 2, 3)]
    assert [[f["lfn"] for f in page] for page in pages] == [LFNS[:2], LFNS[2:], []]
    assert client.get(f"{API}/{tid}/stats", headers=manager).json() == {
        "files": {"Assigned": 2, "Unused": 1}, "total": 3, "processed_percent": 0.0, "problematic": 0,
        "tasks": {"Submitted": 1}, "tasks_created": 1}

    changed = client.patch(f"{API}/{tid}/files", json={LFNS[2]: "Problematic", "/demo/none": "Unused"},
                           headers=manager).json()
    assert changed["ok"] == {LFNS[2]: "Problematic"}
    assert changed["failed"]["/demo/none"]["type"] == "NotFound"
    assert client.patch(f"{API}/{tid}/files", json={LFNS[2]: "Asleep"}, headers=manager).status_code == 400

    for action, status in (("stop", "Stopped"), ("flush", "Flush"), ("complete", "Completed"),
                           ("clean", "TransformationCleaned")):
        answer = client.post(f"{API}/{tid}/{action}", headers=manager)
        assert (answer.status_code, answer.json()["status"]) == (200, status), answer.text
    assert client.get(f"{API}/{tid}/files", headers=manager).json() == []  # cleaned: forgotten
    refused = client.post(f"{API}/{tid}/start", headers=manager)
    assert refused.status_code == 409 and _error(refused)["type"] == "InvalidTransition"


def test_listings_show_the_callers_vo_only_and_filter_by_status_and_type(client: TestClient,
                                                                         iw: Interware) -> None:
    manager, stranger = bearer(iw, MANAGER), bearer(iw, STRANGER)
    ids = [client.post(API, json=copy_spec(name), headers=manager).json()["transformation_id"]
           for name in ("one", "two")]
    theirs = client.post(API, json=copy_spec("theirs"), headers=stranger).json()["transformation_id"]
    client.post(f"{API}/two/start", headers=manager)
    assert [t["transformation_id"] for t in client.get(API, headers=bearer(iw, USER)).json()] == ids
    assert [t["transformation_id"] for t in client.get(API, headers=stranger).json()] == [theirs]
    active = client.get(API, params={"status": ["Active", "Stopped"]}, headers=manager).json()
    assert [t["name"] for t in active] == ["two"]
    assert client.get(API, params={"type": "Removal"}, headers=manager).json() == []
    assert client.get(API, params={"status": "Sleeping"}, headers=manager).status_code == 422


def test_normal_users_read_but_do_not_change_and_other_vos_see_nothing(client: TestClient,
                                                                       iw: Interware) -> None:
    register(iw)
    manager, user, stranger = bearer(iw, MANAGER), bearer(iw, USER), bearer(iw, STRANGER)
    tid = client.post(API, json=copy_spec(), headers=manager).json()["transformation_id"]
    denied = client.post(API, json=copy_spec("mine"), headers=user)
    assert denied.status_code == 403 and "ProductionManagement" in denied.json()["detail"]
    for method, path, body in (("POST", f"{API}/{tid}/start", None), ("POST", f"{API}/{tid}/files", LFNS),
                               ("PATCH", f"{API}/{tid}/files", {LFNS[0]: "Processed"})):
        assert client.request(method, path, json=body, headers=user).status_code == 403, path
    for path in ("", "/stats", "/files", "/tasks"):
        assert client.get(f"{API}/{tid}{path}", headers=user).status_code == 200, path
        missing = client.get(f"{API}/{tid}{path}", headers=stranger)  # as if it did not exist
        assert missing.status_code == 404, path
        assert missing.json()["detail"] == f"transformation {tid} does not exist"
    assert client.get(f"{API}/copy", headers=stranger).status_code == 404
    assert client.post(f"{API}/{tid}/start", headers=stranger).status_code == 404
    assert client.post(f"{API}/{tid}/files", json=LFNS, headers=stranger).status_code == 404
    assert iw.transformations.get(tid).status == "New" and iw.transformations.files(tid) == []
    assert client.get(API).status_code == 401


def test_a_service_administrator_changes_but_the_engine_keeps_creation_to_production_managers(
        client: TestClient, iw: Interware) -> None:
    service = bearer(iw, SERVICE)
    tid = client.post(API, json=copy_spec(), headers=bearer(iw, MANAGER)).json()["transformation_id"]
    assert client.post(f"{API}/{tid}/start", headers=service).json()["status"] == "Active"
    assert client.post(f"{API}/{tid}/files", json=LFNS, headers=service).json()["ok"] == dict.fromkeys(
        LFNS, "Added")
    # creating needs ProductionManagement (transformation.create), in the route and the engine alike
    refused = client.post(API, json=copy_spec("by-sam"), headers=service)
    assert refused.status_code == 403 and "needs ProductionManagement)" in refused.json()["detail"]


@pytest.mark.parametrize(("spec", "parameter", "words"), [
    (copy_spec(plugin="Teleport"), "plugin", "no plugin 'Teleport'"),
    (copy_spec(group_size=-1), "group_size", "'group_size' must be > 0"),
    (copy_spec(group_size="2"), "group_size", "expected a number, got str"),
    (copy_spec(parameters={"GroupSize": "many", "TargetSE": "SE-B-disk"}), "GroupSize", "whole number"),
    (copy_spec(type="Teleportation"), "type", "unknown transformation type"),
    ({"type": "Replication"}, "name", "required key missing @ transformation.name"),
    (copy_spec(name=7), "name", "expected str, got int"),
    (copy_spec(colour="red"), "colour", "unknown key(s) colour"),
    (copy_spec(parameters=["TargetSE"]), "parameters", "expected a JSON object"),
    (["not", "an", "object"], "transformation", "a transformation is a JSON object, not list"),
])
def test_a_bad_spec_is_a_400_naming_the_key(client: TestClient, iw: Interware, spec: Any, parameter: str,
                                            words: str) -> None:
    answer = client.post(API, json=spec, headers=bearer(iw, MANAGER))
    assert answer.status_code == 400, answer.text
    error = _error(answer)
    assert error["type"] == "InvalidTransformation" and error["fields"]["parameter"] == parameter
    assert words in answer.json()["detail"]
    assert iw.transformations.transformations() == []


def test_malformed_bodies_unknown_names_and_oversized_calls(client: TestClient, iw: Interware) -> None:
    manager = bearer(iw, MANAGER)
    garbled = client.post(API, content=b'{"name": "x",',
                          headers={**manager, "Content-Type": "application/json"})
    assert garbled.status_code == 422 and "JSON decode error" in garbled.text
    assert client.post(API, json=copy_spec(), headers=manager).status_code == 201
    taken = client.post(API, json=copy_spec(), headers=manager)
    assert taken.status_code == 409 and _error(taken)["type"] == "AlreadyExists"
    for path in ("/nope", "/nope/stats", "/987654", "/99999999999999999999/files"):
        answer = client.get(f"{API}{path}", headers=manager)
        assert answer.status_code == 404 and _error(answer)["type"] == "NotFound", path
    assert client.post(f"{API}/nope/start", headers=manager).status_code == 404
    assert client.post(f"{API}/copy/teleport", headers=manager).status_code == 422
    too_many = client.post(f"{API}/copy/files", json=["/x"] * 10_001, headers=manager)
    assert too_many.status_code == 400
    assert "at most 10000 LFNs per call, got 10001" in too_many.json()["detail"]
    assert _error(too_many)["fields"]["parameter"] == "lfns"
    not_a_list = client.post(f"{API}/copy/files", json={"lfns": ["/x"]}, headers=manager)
    assert not_a_list.status_code == 422
    assert client.get(f"{API}/copy/files", params={"per_page": 10_001}, headers=manager).status_code == 422
    assert client.get(f"{API}/copy/tasks", params={"per_page": 1_001}, headers=manager).status_code == 422
    assert iw.transformations.files("copy") == []

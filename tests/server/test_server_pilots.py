"""``/api/pilots``: registration, status reports through the pilot status table, search."""

from __future__ import annotations

from fastapi.testclient import TestClient
from server_job_helpers import Tokens

from dirac_core.interware import Interware


def _register(client: TestClient, headers: dict[str, str], *stamps: str, **extra: object) -> object:
    body = {"pilot_stamps": list(stamps), "vo": "demo", "grid_type": "SLURM",
            "grid_site": "DIRAC.A.ch", "destination_site": "ce.a.ch",
            "pilot_references": {s: f"slurm://ce.a.ch/{i}" for i, s in enumerate(stamps)}, **extra}
    return client.post("/api/pilots/", json=body, headers=headers)


def test_register_report_search(client: TestClient, auth: Tokens, iw: Interware) -> None:
    admin = auth("admin", group="demo_admin")
    manager = auth("pilot", group="demo_pilot")
    answer = _register(client, manager, "p1", "p2", "p3")
    assert answer.status_code == 201, answer.text
    again = _register(client, manager, "p1", "p4")
    assert again.status_code == 201
    assert set(again.json()["success"]) == {"p4"}
    assert "registered already" in again.json()["failed"]["p1"]["detail"]

    reports = {"pilot_metadata": [{"PilotStamp": "p1", "Status": "Running"},
                                  {"PilotStamp": "p2", "Status": "Done"},
                                  {"PilotStamp": "nope", "Status": "Done"}]}
    moved = client.patch("/api/pilots/metadata", json=reports, headers=manager)
    assert moved.status_code == 200
    assert moved.json()["success"] == {"p1": "Running", "p2": "Done"}
    assert "not found" in moved.json()["failed"]["nope"]["detail"]
    backwards = client.patch("/api/pilots/metadata", headers=manager, json={
        "pilot_metadata": [{"PilotStamp": "p2", "Status": "Running", "StatusReason": "late"}]})
    assert backwards.status_code == 409 and "p2" in backwards.json()["failed"]
    assert iw.pilots.get(["p2"])["p2"]["Status"] == "Done"

    running = client.post("/api/pilots/search", json={"equal": {"Status": ["Running"]}}, headers=admin)
    assert [row["PilotStamp"] for row in running.json()] == ["p1"]
    assert running.json()[0]["PilotJobReference"] == "slurm://ce.a.ch/0"
    page = client.post("/api/pilots/search", params={"per_page": 2}, json={}, headers=admin)
    assert page.status_code == 206 and page.headers["content-range"] == "pilots 0-1/4"
    unknown = client.post("/api/pilots/search", json={"equal": {"Nope": [1]}}, headers=admin)
    assert unknown.status_code == 400


def test_pilot_routes_are_guarded(client: TestClient, auth: Tokens, iw: Interware) -> None:
    assert _register(client, auth("alice"), "x1").status_code == 403  # type: ignore[attr-defined]
    assert client.post("/api/pilots/search", json={}, headers=auth("alice")).status_code == 403
    other_vo = _register(client, auth("pilot", group="demo_pilot"), "x2", vo="elsewhere")
    assert other_vo.status_code == 403  # type: ignore[attr-defined]
    _register(client, auth("pilot", group="demo_pilot"), "s1", "s2")
    own = {"Authorization": f"Bearer {iw.auth.tokens.issue_pilot('demo', 's1')}"}
    report = client.patch("/api/pilots/metadata", headers=own, json={"pilot_metadata": [
        {"PilotStamp": "s1", "Status": "Running"}, {"PilotStamp": "s2", "Status": "Running"}]})
    assert report.json()["success"] == {"s1": "Running"}
    assert "s2" in report.json()["failed"]  # a pilot reports on itself only

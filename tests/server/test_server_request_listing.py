"""``GET /api/requests`` without a job: a page of the caller's requests (an administrator's: the
VO's), newest first, filtered by status (the client's ``search``: tests/test_cli_requests.py)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from dirac_core.interware import Interware
from dirac_core.rms import Operation, Request, RequestFile


def _store(iw: Interware, owner: str, name: str) -> int:
    request = Request(name=name, owner=owner, owner_group="demo_user", vo="demo", operations=[
        Operation(type="RemoveFile", files=[RequestFile(lfn=f"/demo/user/{owner}/{name}")]),
        Operation(type="RemoveReplica", target_se=["SE-A"], files=[RequestFile(lfn=f"/demo/x/{name}")])])
    return iw.requests.submit([request]).ok[0]


def test_each_caller_lists_their_own_requests_newest_first(client: TestClient, iw: Interware,
                                                           auth: Any) -> None:
    first, second, third = (_store(iw, "alice", n) for n in ("one", "two", "three"))
    bobs = _store(iw, "bob", "bobs")
    iw.requests.cancel([second])
    listed = client.get("/api/requests", headers=auth("alice"))
    assert listed.status_code == 200, listed.text
    rows = listed.json()
    assert [r["request_id"] for r in rows] == [third, second, first]
    assert rows[0] | {"created": None, "updated": None} == {
        "request_id": third, "name": "three", "owner": "alice", "owner_group": "demo_user", "vo": "demo",
        "job_id": None, "status": "Waiting", "error": "", "not_before": None, "created": None,
        "updated": None, "operations": ["RemoveFile", "RemoveReplica"], "current": "RemoveFile"}
    waiting = client.get("/api/requests", params={"status": ["Waiting", "Done"]}, headers=auth("alice"))
    assert [r["request_id"] for r in waiting.json()] == [third, first]
    page = client.get("/api/requests", params={"page": 2, "per_page": 2}, headers=auth("alice"))
    assert [r["request_id"] for r in page.json()] == [first]
    assert [r["request_id"] for r in client.get("/api/requests", headers=auth("bob")).json()] == [bobs]
    admin = client.get("/api/requests", headers=auth("admin", "demo_admin")).json()
    assert [r["request_id"] for r in admin] == [bobs, third, second, first]
    bad = client.get("/api/requests", params={"status": "Sleeping"}, headers=auth("alice"))
    assert bad.status_code == 422

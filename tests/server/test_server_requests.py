"""``/api/requests``: owners store, read and cancel their requests; a pilot stores the failover
requests of its own jobs, owned by the job's owner; everyone else's are missing."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from dirac_core.interware import Interware
from dirac_core.model.request import RequestStatus
from dirac_core.rms import Operation, Request, RequestFile
from dirac_core.rms.wire import request_to_json

JDL = '[Executable = "/bin/echo"; Site = "DIRAC.A.ch"; Parameters = 2;]'


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _body(name: str = "r", **fields: Any) -> dict[str, Any]:
    request = Request(name=name, owner="mallory", owner_group="nobody", vo="other", operations=[
        Operation(type="RemoveFile", files=[RequestFile(lfn="/demo/user/a/alice/x")])], **fields)
    return request_to_json(request)


def test_a_user_stores_reads_and_cancels_their_own_requests(client: TestClient, iw: Interware,
                                                            auth: Any) -> None:
    bad = _body("bad")
    bad["operations"][0]["type"] = "Teleport"
    answer = client.post("/api/requests", json=[_body("good"), bad, {"name": "x", "bogus": 1}],
                         headers=auth("alice"))
    assert answer.status_code == 200, answer.text
    result = answer.json()
    request_id = result["ok"]["0"]
    assert result["failed"]["1"]["type"] == "InvalidRequest"
    assert "Teleport" in result["failed"]["1"]["message"]
    assert "bogus" in result["failed"]["2"]["message"]
    stored = iw.requests.get([request_id]).ok[request_id]
    assert (stored.owner, stored.vo) == ("alice", "demo")  # the body's owner is ignored
    got = client.get(f"/api/requests/{request_id}", headers=auth("alice"))
    assert got.status_code == 200 and got.json()["operations"][0]["files"][0]["lfn"] == "/demo/user/a/alice/x"
    assert client.get(f"/api/requests/{request_id}", headers=auth("bob")).status_code == 404
    refused = client.post("/api/requests/cancel", json=[request_id], headers=auth("bob")).json()
    assert refused["failed"][str(request_id)]["type"] == "NotFound"
    assert client.post("/api/requests/cancel", json=[request_id], headers=auth("alice")).json()["ok"] == {
        str(request_id): None}
    assert iw.requests.status([request_id]) == {request_id: RequestStatus.CANCELED}


def test_a_pilot_stores_requests_for_its_own_jobs_only(client: TestClient, iw: Interware, auth: Any) -> None:
    submitted = client.post("/api/jobs/jdl", json=[JDL], headers=auth("alice"))
    assert submitted.status_code == 201, submitted.text
    pilot = _bearer(iw.auth.tokens.issue_pilot("demo", "stamp-1"))
    other = _bearer(iw.auth.tokens.issue_pilot("demo", "stamp-2"))
    resource = {"Site": "DIRAC.A.ch", "CPUTime": 100000}
    job_id = client.post("/api/jobs/match", json=resource, headers=pilot).json()["JobID"]
    mine = client.post("/api/requests", json=[_body()], headers={**pilot, "X-Dirac-Job": str(job_id)})
    assert mine.status_code == 200, mine.text
    request_id = mine.json()["ok"]["0"]
    stored = iw.requests.get([request_id]).ok[request_id]
    assert (stored.owner, stored.owner_group, stored.job_id) == ("alice", "demo_user", job_id)
    theirs = client.post("/api/requests", json=[_body()], headers={**other, "X-Dirac-Job": str(job_id)})
    assert theirs.status_code == 403
    assert client.post("/api/requests", json=[_body()],
                       headers={**auth("alice"), "X-Dirac-Job": str(job_id)}).status_code == 403
    assert client.post("/api/requests", json=[_body()],
                       headers={**pilot, "X-Dirac-Job": "1; DROP"}).status_code == 400
    listed = client.get("/api/requests", params={"job_id": job_id}, headers=auth("alice"))
    assert listed.json() == [request_id]
    assert client.get("/api/requests", params={"job_id": job_id}, headers=auth("bob")).json() == []


def test_a_user_cannot_attach_a_request_to_someone_elses_job(client: TestClient, auth: Any) -> None:
    job_id = client.post("/api/jobs/jdl", json=[JDL], headers=auth("alice")).json()[0]["JobID"]
    answer = client.post("/api/requests", json=[_body(job_id=job_id)], headers=auth("bob")).json()
    assert answer["failed"]["0"]["type"] == "NotFound"
    assert client.post("/api/requests", json=[_body(job_id=job_id)], headers=auth("alice")).json()["ok"]


def test_too_many_requests_in_one_call_are_refused(client: TestClient, auth: Any) -> None:
    answer = client.post("/api/requests", json=[{}] * 1001, headers=auth("alice"))
    assert answer.status_code == 400 and "at most 1000" in answer.text

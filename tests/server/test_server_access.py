"""Who sees and acts on which jobs through the API, on every backend.

Normal users see only their own jobs (their group's with job sharing),
administrators the whole VO, pilots only match and update; a job the caller
may not see is answered exactly like a job that does not exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_job_helpers import RESOURCE, history, job_row, stamp, submit, visible

from dirac_core.model import FakeClock

Tokens = Callable[..., dict[str, str]]


def _summary(client: TestClient, headers: dict[str, str]) -> dict[tuple[str, str], int]:
    answer = client.post("/api/jobs/summary", headers=headers,
                         json={"grouping": ["Owner", "OwnerGroup"]})
    assert answer.status_code == 200, answer.text
    return {(row["Owner"], row["OwnerGroup"]): row["count"] for row in answer.json()}


def test_users_see_only_their_own_jobs(client: TestClient, auth: Tokens) -> None:
    alices = submit(client, auth("alice"), 2)
    bobs = submit(client, auth("bob"))
    assert set(visible(client, auth("bob"))) == set(bobs)
    assert set(visible(client, auth("alice"))) == set(alices)
    assert visible(client, auth("carol")) == {}
    assert _summary(client, auth("bob")) == {("bob", "demo_user"): 1}
    assert _summary(client, auth("carol")) == {}
    # a search that names alice's jobs outright still finds nothing for bob
    named = client.post("/api/jobs/search", headers=auth("bob"), json={
        "search": [{"parameter": "JobID", "operator": "in", "values": alices}]})
    assert named.status_code == 200 and named.json() == []
    by_owner = client.post("/api/jobs/summary", headers=auth("bob"), json={
        "grouping": ["Owner"], "search": [{"parameter": "Owner", "operator": "eq", "value": "alice"}]})
    assert by_owner.status_code == 200 and by_owner.json() == []


def test_job_sharing_group_sees_the_groups_jobs_only(client: TestClient, auth: Tokens) -> None:
    private = submit(client, auth("alice"))
    shared = submit(client, auth("alice", group="demo_shared"), 2)
    bobs_shared = submit(client, auth("bob", group="demo_shared"))
    bob = auth("bob", group="demo_shared")
    seen = visible(client, bob)
    assert set(seen) == {*shared, *bobs_shared}
    assert {row["OwnerGroup"] for row in seen.values()} == {"demo_shared"}
    assert _summary(client, bob) == {("alice", "demo_shared"): 2, ("bob", "demo_shared"): 1}
    assert client.get(f"/api/jobs/{shared[0]}/jdl", headers=bob).status_code == 200
    assert client.get(f"/api/jobs/{private[0]}/jdl", headers=bob).status_code == 404
    # in his private group bob sees his own jobs, whatever their group, and not alice's
    assert set(visible(client, auth("bob"))) == set(bobs_shared)
    # sharing lets group members manage each other's jobs, not the owners' other jobs
    killed = client.post("/api/jobs/kill", headers=bob, json={"job_ids": [shared[0], private[0]]})
    assert killed.status_code == 200, killed.text
    assert set(killed.json()["success"]) == {str(shared[0])}
    assert killed.json()["failed"] == {str(private[0]): {"detail": f"job {private[0]} not found"}}
    assert job_row(client, auth("alice"), private[0])["Status"] == "Waiting"


def test_administrator_sees_the_whole_vo(client: TestClient, auth: Tokens) -> None:
    mine = submit(client, auth("alice"))
    shared = submit(client, auth("alice", group="demo_shared"))
    bobs = submit(client, auth("bob"), 2)
    admin = auth("admin", group="demo_admin")
    assert set(visible(client, admin)) == {*mine, *shared, *bobs}
    assert _summary(client, admin) == {("alice", "demo_user"): 1, ("alice", "demo_shared"): 1,
                                       ("bob", "demo_user"): 2}
    assert client.get(f"/api/jobs/{bobs[0]}/history", headers=admin).status_code == 200


def _single(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    answer = client.request(method, path, headers=headers)
    return answer.status_code, answer.json()


@pytest.mark.parametrize("route", ["history", "jdl"])
def test_anothers_job_reads_like_a_missing_job(client: TestClient, auth: Tokens,
                                                route: str) -> None:
    [job] = submit(client, auth("alice"))
    missing = job + 1000
    bob = auth("bob")
    theirs = _single(client, "GET", f"/api/jobs/{job}/{route}", bob)
    nothing = _single(client, "GET", f"/api/jobs/{missing}/{route}", bob)
    assert theirs == (404, {"detail": f"job {job} not found"})
    assert nothing == (404, {"detail": f"job {missing} not found"})
    assert client.get(f"/api/jobs/{job}/{route}", headers=auth("alice")).status_code == 200


@pytest.mark.parametrize("route", ["kill", "delete", "reschedule"])
def test_anothers_job_in_bulk_answers_like_a_missing_job(client: TestClient, auth: Tokens,
                                                         route: str) -> None:
    [job] = submit(client, auth("alice"))
    before = history(client, auth("alice"), job)
    missing = job + 1000
    bob = auth("bob")
    answer = client.post(f"/api/jobs/{route}", headers=bob, json={"job_ids": [job, missing]})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"success": {}, "failed": {
        str(job): {"detail": f"job {job} not found"},
        str(missing): {"detail": f"job {missing} not found"}}}
    assert job_row(client, auth("alice"), job)["Status"] == "Waiting"
    assert history(client, auth("alice"), job) == before


def test_anothers_job_status_and_heartbeat_are_refused(client: TestClient, auth: Tokens,
                                                       fake_clock: FakeClock) -> None:
    [job] = submit(client, auth("alice"))
    before = history(client, auth("alice"), job)
    missing = job + 1000
    when = stamp(fake_clock)
    update = {"Status": "Killed", "MinorStatus": "by bob", "Source": "bob"}
    answer = client.patch("/api/jobs/status", headers=auth("bob"),
                          json={str(job): {when: update}, str(missing): {when: update}})
    assert answer.status_code == 404, answer.text
    assert answer.json() == {"success": {}, "failed": {
        str(job): {"detail": f"job {job} not found"},
        str(missing): {"detail": f"job {missing} not found"}}}
    beat = client.patch("/api/jobs/heartbeat", headers=auth("bob"),
                        json={str(job): {"LoadAverage": 1.0}})
    assert beat.status_code == 200 and beat.json() == []
    row = job_row(client, auth("alice"), job)
    assert row["Status"] == "Waiting" and row["HeartBeatTime"] is None
    assert history(client, auth("alice"), job) == before


def test_force_needs_the_administrator_property(client: TestClient, auth: Tokens,
                                                fake_clock: FakeClock) -> None:
    [job] = submit(client, auth("alice"))
    body = {str(job): {stamp(fake_clock): {"Status": "Done", "MinorStatus": "forced",
                                            "Source": "test"}}}
    refused = client.patch("/api/jobs/status", params={"force": "true"}, headers=auth("alice"),
                           json=body)
    assert refused.status_code == 403, refused.text
    assert "JobAdministrator" in refused.json()["detail"]
    assert job_row(client, auth("alice"), job)["Status"] == "Waiting"
    # without force the state machine refuses Waiting -> Done, even for an administrator
    plain = client.patch("/api/jobs/status", headers=auth("admin", group="demo_admin"), json=body)
    assert plain.status_code == 200 and plain.json()["success"][str(job)]["Status"] == "Waiting"
    body = {str(job): {stamp(fake_clock): {"Status": "Done", "MinorStatus": "forced",
                                            "Source": "test"}}}
    forced = client.patch("/api/jobs/status", params={"force": "true"},
                          headers=auth("admin", group="demo_admin"), json=body)
    assert forced.status_code == 200, forced.text
    assert forced.json()["success"][str(job)]["Status"] == "Done"
    assert job_row(client, auth("alice"), job)["Status"] == "Done"


def test_only_pilots_match(client: TestClient, auth: Tokens) -> None:
    [job] = submit(client, auth("alice"))
    for user in ("alice", "bob"):
        refused = client.post("/api/jobs/match", headers=auth(user), json=RESOURCE)
        assert refused.status_code == 403, refused.text
        assert "GenericPilot" in refused.json()["detail"]
    assert job_row(client, auth("alice"), job)["Status"] == "Waiting"
    matched = client.post("/api/jobs/match", headers=auth("pilot", group="demo_pilot"), json=RESOURCE)
    assert matched.status_code == 200, matched.text
    got = matched.json()
    assert got["JobID"] == job and got["Owner"] == "alice" and got["OwnerGroup"] == "demo_user"
    assert got["VO"] == "demo" and "/bin/echo" in got["JDL"]
    again = client.post("/api/jobs/match", headers=auth("pilot", group="demo_pilot"), json=RESOURCE)
    assert again.status_code == 204 and again.content == b""
    assert job_row(client, auth("alice"), job)["Status"] == "Matched"


def test_pilot_updates_the_job_it_matched(client: TestClient, auth: Tokens,
                                          fake_clock: FakeClock) -> None:
    [job] = submit(client, auth("alice"))
    pilot = auth("pilot", group="demo_pilot")
    assert client.post("/api/jobs/match", headers=pilot, json=RESOURCE).json()["JobID"] == job
    beat = client.patch("/api/jobs/heartbeat", headers=pilot, json={str(job): {"LoadAverage": 2}})
    assert beat.status_code == 200 and beat.json() == []
    assert job_row(client, auth("alice"), job)["Status"] == "Running"
    when = stamp(fake_clock)
    done = client.patch("/api/jobs/status", headers=pilot, json={
        str(job): {when: {"Status": "Done", "MinorStatus": "Execution Complete",
                          "Source": "JobWrapper"}}})
    assert done.status_code == 200, done.text
    state = done.json()["success"][str(job)]
    assert state["Status"] == "Done" and state["MinorStatus"] == "Execution Complete"
    row = job_row(client, auth("alice"), job)
    assert row["Status"] == "Done" and row["HeartBeatTime"] is not None


def test_pilots_neither_read_nor_manage_jobs(client: TestClient, auth: Tokens) -> None:
    [job] = submit(client, auth("alice"))
    pilot = auth("pilot", group="demo_pilot")
    assert visible(client, pilot) == {}
    assert client.get(f"/api/jobs/{job}/history", headers=pilot).status_code == 404
    assert client.get(f"/api/jobs/{job}/jdl", headers=pilot).status_code == 404
    killed = client.post("/api/jobs/kill", headers=pilot, json={"job_ids": [job]})
    assert killed.json() == {"success": {}, "failed": {str(job): {"detail": f"job {job} not found"}}}
    assert job_row(client, auth("alice"), job)["Status"] == "Waiting"


def test_pilots_cannot_submit(client: TestClient, auth: Tokens) -> None:
    refused = client.post("/api/jobs/jdl", headers=auth("pilot", group="demo_pilot"),
                          json=['[Executable = "/bin/echo";]'])
    assert refused.status_code == 403, refused.text
    assert "NormalUser" in refused.json()["detail"]
    assert visible(client, auth("admin", group="demo_admin")) == {}

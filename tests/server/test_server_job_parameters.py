"""``PATCH /api/jobs/metadata`` (DiracX's route) and our ``GET /api/jobs/{id}/parameters``."""

from __future__ import annotations

from fastapi.testclient import TestClient
from server_job_helpers import RESOURCE, Tokens, submit

from dirac_core.interware import Interware


def test_a_pilot_records_parameters_of_the_job_it_holds_only(client: TestClient, iw: Interware,
                                                              auth: Tokens) -> None:
    mine, other = submit(client, auth("alice"), count=2)
    pilot = {"Authorization": f"Bearer {iw.auth.tokens.issue_pilot('demo', 'stamp-p')}"}
    held = client.post("/api/jobs/match", json=RESOURCE, headers=pilot).json()["JobID"]
    free = other if held == mine else mine
    ok = client.patch("/api/jobs/metadata", json={str(held): {"ExitCode": 0, "HostName": "wn1"}},
                      headers=pilot)
    assert ok.status_code == 204, ok.text
    refused = client.patch("/api/jobs/metadata", json={str(free): {"ExitCode": 1}}, headers=pilot)
    assert refused.status_code == 403  # a job of its VO: the pilot is told why
    assert refused.json()["failed"] == {str(free): {"detail": f"job {free} is not held by pilot stamp-p"}}
    assert iw.wms.get_parameters(free) == {}
    got = client.get(f"/api/jobs/{held}/parameters", headers=auth("alice"))
    assert got.status_code == 200 and got.json() == {"ExitCode": "0", "HostName": "wn1"}
    assert client.get(f"/api/jobs/{held}/parameters", headers=auth("bob")).status_code == 404


def test_parameter_values_must_be_scalars(client: TestClient, auth: Tokens) -> None:
    [job] = submit(client, auth("alice"))
    bad = client.patch("/api/jobs/metadata", json={str(job): {"x": {"nested": 1}}}, headers=auth("alice"))
    assert bad.status_code == 400 and "strings, numbers or booleans" in bad.text
    assert client.patch("/api/jobs/metadata", json={"abc": {}}, headers=auth("alice")).status_code == 400



def test_the_pilot_log_is_reachable_from_the_job(client: TestClient, iw: Interware, auth: Tokens) -> None:
    [job] = submit(client, auth("alice"))
    assert client.get(f"/api/jobs/{job}/pilot-output", headers=auth("alice")).status_code == 404
    pilot = {"Authorization": f"Bearer {iw.auth.tokens.issue_pilot('demo', 'stamp-log')}"}
    assert client.post("/api/jobs/match", json=RESOURCE, headers=pilot).json()["JobID"] == job
    missing = client.get(f"/api/jobs/{job}/pilot-output", headers=auth("alice"))
    assert missing.status_code == 404 and "no output of pilot stamp-log" in missing.text
    iw.pilots.keep_output("stamp-log", "pilot says hi\n", "")
    got = client.get(f"/api/jobs/{job}/pilot-output", headers=auth("alice"))
    assert got.json() == {"PilotStamp": "stamp-log", "StdOut": "pilot says hi\n", "StdErr": ""}
    assert client.get(f"/api/jobs/{job}/pilot-output", headers=auth("bob")).status_code == 404

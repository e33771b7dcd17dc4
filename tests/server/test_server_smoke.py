"""The main paths through the app, on every backend."""

from __future__ import annotations

from fastapi.testclient import TestClient
from server_helpers import PASSWORD

JDL = '[Executable = "/bin/echo"; Arguments = "hi"; JobName = "j%n"; Parameters = 3;]'


def test_device_login_submit_search(client: TestClient) -> None:
    started = client.post("/api/auth/device", params={"client_id": "myDIRACClientID",
                                                      "scope": "vo:demo"})
    assert started.status_code == 200, started.text
    flow = started.json()
    poll = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code",
            "device_code": flow["device_code"], "client_id": "myDIRACClientID"}
    pending = client.post("/api/auth/token", data=poll)
    assert pending.status_code == 400 and pending.json()["error"] == "authorization_pending"
    page = client.get(flow["verification_uri_complete"].replace("http://testserver", ""))
    assert page.status_code == 200 and flow["user_code"] in page.text
    approved = client.post("/api/auth/device/approve", data={
        "user_code": flow["user_code"], "username": "alice", "password": PASSWORD})
    assert approved.status_code == 200, approved.text
    tokens = client.post("/api/auth/token", data=poll)
    assert tokens.status_code == 200, tokens.text
    headers = {"Authorization": f"Bearer {tokens.json()['access_token']}"}
    me = client.get("/api/auth/userinfo", headers=headers).json()
    assert me["preferred_username"] == "alice" and me["dirac_group"] == "demo_user"
    inserted = client.post("/api/jobs/jdl", json=[JDL], headers=headers)
    assert inserted.status_code == 201, inserted.text
    ids = [job["JobID"] for job in inserted.json()]
    assert len(ids) == 3 and "T" in inserted.json()[0]["TimeStamp"]
    page1 = client.post("/api/jobs/search", params={"per_page": 2}, headers=headers,
                        json={"parameters": ["JobID", "Status"]})
    assert page1.status_code == 206 and page1.headers["content-range"] == "jobs 0-1/3"
    past = client.post("/api/jobs/search", params={"page": 9, "per_page": 2}, headers=headers)
    assert past.status_code == 416 and past.headers["content-range"] == "jobs */3"

"""Pilot tokens: short-lived, GenericPilot, bound to one pilot's jobs."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient

from dirac_core.interware import Interware
from dirac_core.model import FakeClock

JDL = '[Executable = "/bin/echo"; Site = "DIRAC.A.ch"; Parameters = 2;]'


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_pilot_token_updates_only_its_own_jobs(client: TestClient, iw: Interware,
                                                 auth: object, fake_clock: FakeClock) -> None:
    submitted = client.post("/api/jobs/jdl", json=[JDL], headers=auth("alice"))  # type: ignore[operator]
    assert submitted.status_code == 201, submitted.text
    one = _bearer(iw.auth.tokens.issue_pilot("demo", "stamp-1"))
    two = _bearer(iw.auth.tokens.issue_pilot("demo", "stamp-2"))
    resource = {"Site": "DIRAC.A.ch", "CPUTime": 100000, "PilotStamp": "forged"}
    got1 = client.post("/api/jobs/match", json=resource, headers=one)
    got2 = client.post("/api/jobs/match", json=resource, headers=two)
    assert got1.status_code == got2.status_code == 200, (got1.text, got2.text)
    job1, job2 = got1.json()["JobID"], got2.json()["JobID"]
    assert iw.wms.jobs_of_pilot("stamp-1") == {job1}  # the token's stamp, not the body's
    assert iw.wms.jobs_of_pilot("forged") == set()
    running = {"2026-01-01T00:10:00+00:00": {"Status": "Running", "Source": "JobWrapper"}}
    mine = client.patch("/api/jobs/status", json={str(job1): running}, headers=one)
    assert mine.status_code == 200 and str(job1) in mine.json()["success"]
    theirs = client.patch("/api/jobs/status", json={str(job2): running}, headers=one)
    assert theirs.status_code == 403
    assert theirs.json()["failed"] == {str(job2): {"detail": f"job {job2} is not held by pilot stamp-1"}}
    assert iw.wms.get_jobs([job2])[job2]["status"] == "Matched"
    # pilot tokens can neither submit nor read anybody's jobs, and they expire
    assert client.post("/api/jobs/jdl", json=[JDL], headers=one).status_code == 403
    assert client.post("/api/jobs/search", json={}, headers=one).json() == []
    fake_clock.advance(timedelta(minutes=iw.config.auth.pilot_token_minutes, seconds=31))
    assert client.post("/api/jobs/match", json=resource, headers=one).status_code == 401

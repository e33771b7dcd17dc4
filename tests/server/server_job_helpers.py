"""Small helpers of the server tests: submit jobs, read them back, time stamps for updates."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from dirac_core.model import FakeClock

#: A job every pilot of the test grid may run.
JDL = '[Executable = "/bin/echo"; Arguments = "hi"; JobName = "probe";]'
#: A pilot's resource description that matches :data:`JDL`.
RESOURCE: dict[str, Any] = {"Site": "DIRAC.A.ch", "CPUTime": 1_000_000}


#: the ``auth`` fixture: ``auth("alice", group=None)`` -> request headers
Tokens = Callable[..., dict[str, str]]

def submit(client: TestClient, headers: dict[str, str], count: int = 1) -> list[int]:
    """Submit ``count`` copies of :data:`JDL`; the new job ids."""
    answer = client.post("/api/jobs/jdl", json=[JDL] * count, headers=headers)
    assert answer.status_code == 201, answer.text
    return [job["JobID"] for job in answer.json()]


def visible(client: TestClient, headers: dict[str, str]) -> dict[int, dict[str, Any]]:
    """Every job the caller's search shows, by id (JobID, Owner, OwnerGroup, Status)."""
    answer = client.post("/api/jobs/search", params={"per_page": 10_000}, headers=headers,
                         json={"parameters": ["JobID", "Owner", "OwnerGroup", "Status"]})
    assert answer.status_code == 200, answer.text
    return {row["JobID"]: row for row in answer.json()}


def job_row(client: TestClient, headers: dict[str, str], job_id: int) -> dict[str, Any]:
    """Every attribute of one job, as its owner (or an administrator) searches it."""
    answer = client.post("/api/jobs/search", headers=headers, json={
        "search": [{"parameter": "JobID", "operator": "eq", "value": job_id}]})
    assert answer.status_code == 200, answer.text
    rows = answer.json()
    assert len(rows) == 1, rows
    row: dict[str, Any] = rows[0]
    return row


def history(client: TestClient, headers: dict[str, str], job_id: int) -> list[dict[str, Any]]:
    """The job's status history as its owner reads it."""
    answer = client.get(f"/api/jobs/{job_id}/history", headers=headers)
    assert answer.status_code == 200, answer.text
    records: list[dict[str, Any]] = answer.json()
    return records


def stamp(clock: FakeClock, seconds: float = 1) -> str:
    """Advance ``clock`` by ``seconds`` and return the new time as a tz-aware ISO string."""
    return clock.advance(seconds).isoformat()

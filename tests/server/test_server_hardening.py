"""Limits and consistency found while testing: RAM tags bounded, search and access agree,
and a batch that breaks unexpectedly never leaves a pilot waiting."""

from __future__ import annotations

import threading

import pytest
from fastapi.testclient import TestClient
from server_job_helpers import Tokens, submit

from dirac_core.errors import DiracError
from dirac_core.interware import Interware
from dirac_core.wms.resource import ResourceDescription
from dirac_server.matching import MatchBatcher


def test_max_ram_is_bounded(client: TestClient, auth: Tokens) -> None:
    with pytest.raises(DiracError, match="MaxRAM must be between"):
        ResourceDescription.from_mapping({"Site": "DIRAC.A.ch", "MaxRAM": 10**12})
    answer = client.post("/api/jobs/match", json={"Site": "DIRAC.A.ch", "MaxRAM": 10**12},
                         headers=auth("pilot", group="demo_pilot"))
    assert answer.status_code == 400 and "MaxRAM" in answer.json()["detail"]


def test_reading_by_id_follows_what_search_shows(client: TestClient, auth: Tokens) -> None:
    [own] = submit(client, auth("alice"))  # in demo_user
    shared = auth("alice", group="demo_shared")
    found = client.post("/api/jobs/search", json={}, headers=shared).json()
    assert own not in [row["JobID"] for row in found]
    assert client.get(f"/api/jobs/{own}/history", headers=shared).status_code == 404
    assert client.get(f"/api/jobs/{own}/history", headers=auth("alice")).status_code == 200


class _Broken:
    """A WMS whose match_many breaks the way no caller expects."""

    def match_many(self, resources: list[object], identity: object) -> list[object]:
        raise MemoryError("boom")

    def match(self, resource: object, identity: object) -> object:
        raise MemoryError("boom")


def test_an_unexpected_failure_reaches_every_waiting_pilot(iw: Interware) -> None:
    batcher = MatchBatcher(_Broken(), limit=4)  # type: ignore[arg-type]
    resource = ResourceDescription.from_mapping({"Site": "DIRAC.A.ch"})
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def pilot() -> None:
        barrier.wait()
        try:
            batcher.match(resource, iw.identity("pilot", "demo_pilot"))
        except MemoryError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=pilot) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    assert len(errors) == 3
    with pytest.raises(MemoryError):  # and the batcher still serves
        batcher.match(resource, iw.identity("pilot", "demo_pilot"))


def test_a_transient_database_error_is_503_with_retry_after(client: TestClient, iw: Interware,
                                                            auth: Tokens,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    def deadlock(*args: object, **kwargs: object) -> None:
        raise OperationalError("UPDATE ...", {}, Exception("deadlock detected"))

    monkeypatch.setattr(iw.wms, "search", deadlock)
    answer = client.post("/api/jobs/search", json={}, headers=auth("alice"))
    assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
    assert "deadlock" not in answer.text  # no database detail leaks out
    assert client.get("/api/health/live").status_code == 200  # the connection is still good

"""The match batcher: concurrent pilots' requests claimed together, one bad request failing alone.

Threads start together at a barrier; how they fall into batches depends on
scheduling, so only what holds for every interleaving is asserted: each
request gets its own job, the job its resource was claimed for, and a bad
request fails only itself. ``_serve`` is also driven with a fixed batch.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from server_job_helpers import RESOURCE, job_row, submit
from wms_helpers import PILOT, who

from dirac_core.errors import DiracError
from dirac_core.interware import Interware
from dirac_core.model.identity import Identity
from dirac_core.wms.matcher import MatchedJob
from dirac_core.wms.resource import ResourceDescription
from dirac_server.matching import MatchBatcher, _Request

Tokens = Callable[..., dict[str, str]]
#: required tags the resource does not offer: DIRAC's "Wrong conditions"
BAD = {"Tag": ["SSD"], "RequiredTag": ["GPU"]}


def _resource(stamp: str, **extra: object) -> ResourceDescription:
    return ResourceDescription.from_mapping({**RESOURCE, "PilotReference": stamp, **extra})


def _race(matcher: MatchBatcher, requests: list[tuple[ResourceDescription, Identity]]
          ) -> list[MatchedJob | BaseException | None]:
    """Every request on its own thread, released together; each one's answer or error."""
    outcomes: list[MatchedJob | BaseException | None] = [None] * len(requests)
    barrier = threading.Barrier(len(requests))

    def run(index: int) -> None:
        resource, identity = requests[index]
        try:
            barrier.wait(timeout=60)
            outcomes[index] = matcher.match(resource, identity)
        except BaseException as exc:  # handed to the test's thread
            outcomes[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a match request never returned"
    return outcomes


@pytest.mark.parametrize("limit", [16, 2])
def test_concurrent_requests_get_distinct_jobs(client: TestClient, iw: Interware, auth: Tokens,
                                               limit: int) -> None:
    jobs = submit(client, auth("alice"), 8)
    matcher = MatchBatcher(iw.wms, limit=limit)
    stamps = [f"pilot-{n}" for n in range(8)]
    outcomes = _race(matcher, [(_resource(s), PILOT) for s in stamps])
    assert all(isinstance(o, MatchedJob) for o in outcomes), outcomes
    got = [o.job_id for o in outcomes if isinstance(o, MatchedJob)]
    assert sorted(got) == sorted(jobs)
    # each request got the job claimed for its own resource (its pilot stamp)
    for stamp, job in zip(stamps, got, strict=True):
        assert iw.wms.jobs_of_pilot(stamp) == {job}
    assert matcher.served == 8
    assert -(-8 // limit) <= matcher.batches <= 8  # no batch holds more than ``limit`` requests
    assert matcher.match(_resource("late"), PILOT) is None
    assert {job_row(client, auth("alice"), j)["Status"] for j in jobs} == {"Matched"}


def test_a_bad_request_among_concurrent_ones_fails_alone(client: TestClient, iw: Interware,
                                                         auth: Tokens) -> None:
    jobs = submit(client, auth("alice"), 4)
    matcher = MatchBatcher(iw.wms)
    requests = [(_resource(f"good-{n}"), PILOT) for n in range(4)]
    requests.insert(2, (_resource("bad", **BAD), PILOT))
    outcomes = _race(matcher, requests)
    bad = outcomes.pop(2)
    assert isinstance(bad, DiracError) and "required tags ['GPU']" in str(bad)
    assert sorted(o.job_id for o in outcomes if isinstance(o, MatchedJob)) == sorted(jobs)
    assert iw.wms.jobs_of_pilot("bad") == set()


def test_serve_a_fixed_batch_with_a_bad_request(client: TestClient, iw: Interware,
                                                auth: Tokens) -> None:
    jobs = submit(client, auth("alice"), 3)
    matcher = MatchBatcher(iw.wms)
    first, bad, second = (_Request(_resource("one"), PILOT), _Request(_resource("bad", **BAD), PILOT),
                          _Request(_resource("two"), PILOT))
    matcher._serve([first, bad, second])
    assert first.error is None and second.error is None
    assert isinstance(first.result, MatchedJob) and isinstance(second.result, MatchedJob)
    assert first.result.job_id != second.result.job_id
    assert iw.wms.jobs_of_pilot("one") == {first.result.job_id}
    assert iw.wms.jobs_of_pilot("two") == {second.result.job_id}
    assert bad.result is None and isinstance(bad.error, DiracError)
    assert bad.error.fields.get("field") == "RequiredTag"
    [left] = set(jobs) - {first.result.job_id, second.result.job_id}
    assert job_row(client, auth("alice"), left)["Status"] == "Waiting"
    assert (matcher.batches, matcher.served) == (1, 3)


def test_serve_groups_requests_by_identity(client: TestClient, iw: Interware,
                                           auth: Tokens) -> None:
    [job] = submit(client, auth("alice"))
    matcher = MatchBatcher(iw.wms)
    # bob's own (private) pilot may run only bob's jobs; the generic pilot runs alice's
    bobs, generic = _Request(_resource("bobs"), who("bob")), _Request(_resource("generic"), PILOT)
    matcher._serve([bobs, generic])
    assert bobs.error is None and bobs.result is None
    assert generic.error is None and isinstance(generic.result, MatchedJob)
    assert generic.result.job_id == job
    assert (matcher.batches, matcher.served) == (2, 2)


def test_an_error_reaches_its_caller_and_the_batcher_goes_on(client: TestClient, iw: Interware,
                                                             auth: Tokens) -> None:
    [job] = submit(client, auth("alice"))
    matcher = MatchBatcher(iw.wms)
    with pytest.raises(DiracError, match="required tags"):
        matcher.match(_resource("bad", **BAD), PILOT)
    got = matcher.match(_resource("good"), PILOT)
    assert got is not None and got.job_id == job


@pytest.mark.parametrize(("resource", "status", "says"), [
    ({**RESOURCE, **BAD}, 400, "required tags ['GPU'] are not among the offered tags"),
    ({"CPUTime": 100}, 400, "needs a Site"),
    ({"Site": "DIRAC.A.ch", "CPUTime": "lots"}, 400, "invalid number"),
    ({"Site": "DIRAC.A.ch", "CPUTime": [1]}, 400, "invalid number"),
    ({**RESOURCE, "Tag": 5}, 400, "invalid resource description"),
    ({**RESOURCE, "OwnerGroup": 5}, 400, "invalid resource description"),
    ({**RESOURCE, "OwnerGroup": "elsewhere_user"}, 403, "not in VO 'demo'"),
])
def test_match_route_refuses_a_bad_resource(client: TestClient, auth: Tokens,
                                            resource: dict[str, object], status: int,
                                            says: str) -> None:
    [job] = submit(client, auth("alice"))
    answer = client.post("/api/jobs/match", json=resource, headers=auth("pilot", group="demo_pilot"))
    assert answer.status_code == status, answer.text
    assert says in answer.json()["detail"]
    assert job_row(client, auth("alice"), job)["Status"] == "Waiting"

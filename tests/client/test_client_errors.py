"""A server's refusals come back as the library's exceptions; some are caught before sending."""

from __future__ import annotations

from datetime import datetime

import pytest
from client_helpers import JDL, JDL_ELSEWHERE, MISSING, RESOURCE, Recording, Served

from dirac_core.client import RemoteError
from dirac_core.errors import JDLError, NotAuthenticated, NotFound, PermissionDenied
from dirac_core.wms.query import InvalidQuery


def test_another_users_job_is_not_found(served: Served) -> None:
    alice, bob = served.remote("alice").wms, served.remote("bob").wms
    [job] = alice.submit(JDL)
    with pytest.raises(NotFound) as raised:
        bob.history(job.job_id)
    assert raised.value.fields["status"] == 404 and str(job.job_id) in str(raised.value)
    with pytest.raises(NotFound):
        bob.get_jdl(job.job_id)
    killed = bob.kill([job.job_id])
    assert not killed.ok and isinstance(killed.failed[job.job_id], NotFound)
    updated = bob.set_status({job.job_id: {datetime.fromisoformat("2030-01-01T00:00:00+00:00"):
                                           {"Status": "Killed"}}})
    assert not updated.ok and isinstance(updated.failed[job.job_id], NotFound)
    assert bob.search(["JobID"]).rows == []
    assert alice.history(job.job_id)[0]["job_id"] == job.job_id


def test_bad_jdl_is_a_jdl_error_naming_the_job(served: Served) -> None:
    alice = served.remote("alice").wms
    with pytest.raises(JDLError) as raised:
        alice.submit([JDL, '[Executable = "/bin/echo"; CPUTime = "lots";]'])
    assert raised.value.fields["status"] == 400 and "job 1" in str(raised.value)
    assert alice.search(["JobID"]).total == 0  # all or nothing within one request


def test_a_failure_after_the_first_request_names_the_jobs_submitted(served: Served) -> None:
    alice = served.remote("alice").wms
    alice.jdls_per_call = 2
    with pytest.raises(JDLError) as raised:
        alice.submit([JDL, JDL, "[Executable = "])
    submitted = raised.value.fields["submitted"]
    assert [j.job_id for j in submitted] == [j["JobID"] for j in alice.search(["JobID"]).rows]
    assert len(submitted) == 2 and any("earlier requests" in note for note in raised.value.__notes__)


def test_no_token_is_not_authenticated(served: Served) -> None:
    anonymous = served.remote(None).wms
    with pytest.raises(NotAuthenticated) as raised:
        anonymous.search()
    assert raised.value.fields["status"] == 401
    with pytest.raises(NotAuthenticated):
        served.client(token="not-a-token").wms.submit(JDL)


def test_permissions_are_the_servers(served: Served) -> None:
    alice = served.remote("alice").wms
    with pytest.raises(PermissionDenied) as raised:
        alice.match(RESOURCE)
    assert raised.value.fields["status"] == 403
    [job] = alice.submit(JDL)
    with pytest.raises(PermissionDenied):
        alice.set_status({job.job_id: {datetime.fromisoformat("2030-01-01T00:00:00+00:00"):
                                       {"Status": "Done"}}}, force=True)
    with pytest.raises(PermissionDenied):
        served.remote("pilot", "demo_pilot").wms.submit(JDL)
    admin = served.remote("admin", "demo_admin").wms
    forced = admin.set_status({job.job_id: {datetime.fromisoformat("2030-01-01T00:00:00+00:00"):
                                            {"Status": "Done"}}}, force=True)
    assert forced.ok[job.job_id].status == "Done"


def test_bad_arguments_are_refused_before_sending(served: Served) -> None:
    recorder = Recording()
    alice = served.remote("alice", transport=recorder).wms
    with pytest.raises(ValueError, match="must be timezone-aware"):
        alice.set_status({1: {datetime(2030, 1, 1): {"Status": "Done"}}})
    with pytest.raises(ValueError, match="Bogus"):
        alice.set_status({1: {datetime.fromisoformat("2030-01-01T00:00:00+00:00"): {"Status": "Bogus"}}})
    with pytest.raises(InvalidQuery):
        alice.search(search=[{"parameter": "NoSuchColumn", "operator": "eq", "value": 1}])
    with pytest.raises(InvalidQuery):
        alice.search(["JobID"], sort=[{"parameter": "Status"}], after_job_id=3)
    with pytest.raises(TypeError, match="job 0: expected JDL text"):
        alice.submit([3])  # type: ignore[list-item]
    assert recorder.sent == []


def test_server_side_refusals_of_a_search(served: Served) -> None:
    alice = served.remote("alice").wms
    with pytest.raises(InvalidQuery) as raised:
        alice.search(["JobID"], per_page=0)
    assert raised.value.fields["status"] == 422 and raised.value.fields["field"] == "query.per_page"
    with pytest.raises(InvalidQuery) as unknown:
        alice.summary(["NoSuchColumn"])
    assert unknown.value.fields["status"] == 400 and "NoSuchColumn" in str(unknown.value)


def test_past_the_end_is_an_empty_page_with_the_total(served: Served) -> None:
    alice = served.remote("alice").wms
    alice.submit([JDL_ELSEWHERE] * 3)
    page = alice.search(["JobID"], page=4, per_page=1)
    assert (page.rows, page.total, page.first, page.last, page.past_end) == ([], 3, 3, 2, True)
    middle = alice.search(["JobID"], page=2, per_page=1)
    assert (len(middle.rows), middle.total, middle.first, middle.partial) == (1, 3, 1, True)
    nothing = alice.search(["JobID"], [{"parameter": "JobID", "operator": "eq", "value": MISSING}],
                           page=2, per_page=5)
    assert (nothing.rows, nothing.total, nothing.first) == ([], 0, 5)


def test_unknown_route_is_a_remote_error(served: Served) -> None:
    alice = served.remote("alice")
    with pytest.raises(RemoteError) as raised:
        alice.transport.request("DELETE", "/api/jobs/kill", idempotent=True)
    assert raised.value.fields["status"] == 405

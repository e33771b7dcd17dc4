"""Jobs Completed with pending requests are finalized by the executor once their requests are over
(DIRAC's finalizeRequest), and the ``dirac_request_done`` hook is called."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from rms_helpers import close_interware, make_interware, request, submit

from dirac_core.db import Database
from dirac_core.interware import Interware
from dirac_core.model import FakeClock
from dirac_core.model.job import JobStatus as J
from dirac_core.model.request import RequestStatus as R
from dirac_core.plugins import hookimpl
from dirac_core.rms import Operation, Request


class Plugin:
    """Says yes to every CallHook; records the requests reported done."""

    def __init__(self) -> None:
        self.done: list[tuple[int | None, R]] = []

    @hookimpl
    def dirac_request_operation(self, request: Request, operation: Operation) -> bool:
        return True

    @hookimpl
    def dirac_request_done(self, request: Request) -> None:
        self.done.append((request.request_id, request.status))


@pytest.fixture
def plugin() -> Plugin:
    return Plugin()


@pytest.fixture
def iw(database: Database, fake_clock: FakeClock, tmp_path: Path, plugin: Plugin) -> Iterator[Interware]:
    interware = make_interware(database, fake_clock, tmp_path, plugins=[plugin])
    yield interware
    close_interware(interware)


def _completed_job(iw: Interware, minor: str) -> int:
    [job] = iw.wms.submit('[Executable = "/bin/true";]', iw.identity("alice"))
    when = iw.clock.now() + timedelta(seconds=30)  # a node whose clock runs ahead of the executor's
    update = {"Status": "Completed", "MinorStatus": minor, "Source": "JobWrapper"}
    iw.wms.set_status({job.job_id: {when: update}}, force=True)
    return job.job_id


def _hook(job_id: int, name: str = "r") -> Request:
    return request(Operation(type="CallHook", arguments={"job": job_id}), job_id=job_id, name=name)


def _fails(job_id: int) -> Request:  # no transformation system: fails at once
    arguments = {"transformation": 1, "statuses": {"/a": "Done"}}
    return request(Operation(type="SetFileStatus", arguments=arguments), job_id=job_id, name="fails")


def _job(iw: Interware, job_id: int) -> tuple[J, str]:
    row = iw.wms.get_jobs([job_id])[job_id]
    return row["status"], row["minor_status"]


@pytest.mark.parametrize(("minor", "final"), [("Pending Requests", J.DONE),
                                              ("Application Finished With Errors", J.FAILED),
                                              ("Marked for termination", J.KILLED)])
def test_a_completed_job_ends_as_dirac_says_once_all_its_requests_are_done(
        iw: Interware, plugin: Plugin, minor: str, final: J) -> None:
    job_id = _completed_job(iw, minor)
    first, second = submit(iw, _hook(job_id, "first"), _hook(job_id, "second"))
    executor = iw.request_executor
    request = iw.requests.pick(1)[0]  # the first alone: the job still waits for the second
    assert request.request_id == first
    assert executor.execute(request) is R.DONE
    assert _job(iw, job_id) == (J.COMPLETED, minor)
    assert executor.run_once().finished == {second: R.DONE}
    assert _job(iw, job_id) == (final, "Requests done")
    history = iw.wms.history(job_id)
    assert (history[-1]["status"], history[-1]["source"]) == (final, "RequestExecutor")
    assert plugin.done == [(first, R.DONE), (second, R.DONE)]


def test_a_failed_request_fails_its_completed_job_and_other_jobs_are_left_alone(
        iw: Interware, plugin: Plugin) -> None:
    failing = _completed_job(iw, "Pending Requests")
    [job] = iw.wms.submit('[Executable = "/bin/true";]', iw.identity("alice"))
    ids = submit(iw, _fails(failing), _hook(job.job_id))
    assert iw.request_executor.run_once().finished == {ids[0]: R.FAILED, ids[1]: R.DONE}
    assert _job(iw, failing) == (J.FAILED, "Requests failed")
    assert _job(iw, job.job_id)[0] is J.WAITING  # not Completed: nothing to finalize
    assert sorted(plugin.done) == [(ids[0], R.FAILED), (ids[1], R.DONE)]

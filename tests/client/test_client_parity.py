"""One scenario, run on an embedded ``Interware.wms`` and on ``RemoteInterware.wms``: equal results."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import attrs
from client_helpers import JDL, JDL_ELSEWHERE, MISSING, RESOURCE, Recording, Served

from dirac_core.errors import BulkResult, InvalidTransition, JDLError, NotFound
from dirac_core.jdl.builder import Job
from dirac_core.jdl.description import JobDescription
from dirac_core.model.identity import Identity
from dirac_core.model.job import JobStatus
from dirac_core.wms.control import JobCommand
from dirac_core.wms.matcher import MatchedJob
from dirac_core.wms.query import InvalidQuery
from dirac_core.wms.search import SearchPage
from dirac_core.wms.status_updates import JobState
from dirac_core.wms.submission import SubmittedJob

_JOB_KEYS = ("job_id", "JobID")


def _error(call: Callable[[], object]) -> str:
    try:
        call()
    except Exception as exc:
        return type(exc).__name__
    return "no error"


def scenario(user: Any, pilot: Any, alice: Identity, pilot_id: Identity) -> tuple[dict[str, Any], list[int]]:
    """Submit, search, match, heartbeat, status, kill, reschedule, read, delete: every result."""
    submitted = user.submit([JDL, Job("/bin/echo").name("built").sites("DIRAC.B.fr"),
                             JobDescription.from_jdl(JDL_ELSEWHERE)], alice)
    ids = [job.job_id for job in submitted]
    a, b, c = ids
    mine = [{"parameter": "JobID", "operator": "in", "values": ids}]
    out: dict[str, Any] = {"submitted": submitted}
    out["page"] = user.search(["JobID", "JobName", "Status", "Site", "SubmissionTime"], mine,
                              sort=[{"parameter": "JobID", "direction": "desc"}], per_page=2)
    out["past_end"] = user.search(["JobID"], mine, page=3, per_page=2)
    out["keyset"] = user.search(["JobID"], mine, per_page=1, after_job_id=a)
    out["summary"] = user.summary(["Status", "Site"], mine)
    out["matched"] = pilot.match(RESOURCE, pilot_id)
    out["beat"] = pilot.heartbeat({a: {"LoadAverage": 0.5}})
    out["status"] = pilot.set_status({a: {datetime.now(UTC): {"ApplicationStatus": "working",
                                                              "Source": "JobWrapper"}}},
                                     identity=pilot_id)
    out["killed"] = user.kill([a, b, MISSING])
    out["kill_command"] = pilot.heartbeat({a: {"LoadAverage": 0.1}})
    out["killed_again"] = user.kill([a])
    out["rescheduled"] = user.reschedule([b, c, MISSING])
    out["no_more_work"] = pilot.match(RESOURCE, pilot_id)
    out["history"] = user.history(a)
    out["jdl"] = user.get_jdl(a)
    out["logging"] = user.search(["Status", "LoggingInfo"], [{"parameter": "JobID", "operator": "eq",
                                                             "value": a}])
    out["errors"] = [_error(lambda: user.history(MISSING)), _error(lambda: user.get_jdl(MISSING)),
                     _error(lambda: user.submit("[Executable = ", alice)),
                     _error(lambda: user.search(["NoSuchColumn"])),
                     _error(lambda: user.search(search=[{"parameter": "JobID", "operator": "near",
                                                         "value": 1}]))]
    out["impossible_ids"] = [user.kill([0, -1]), pilot.heartbeat({0: {}}),
                             pilot.set_status({-5: {datetime.now(UTC): {"MinorStatus": "x"}}}),
                             _error(lambda: user.history(0)), _error(lambda: user.get_jdl(-3))]
    out["deleted"] = user.delete(ids)
    return out, ids


def normal(value: Any, ids: list[int], key: str = "") -> Any:
    """``value`` with job ids as their position, times checked aware and blanked, row ids dropped."""
    found: Any = value
    if key in _JOB_KEYS and isinstance(value, int) and not isinstance(value, bool):
        found = f"job{ids.index(value)}" if value in ids else value
    elif key == "task_queue":
        assert isinstance(value, int)
        found = "<tq>"
    elif isinstance(value, datetime):
        assert value.tzinfo is not None and value.utcoffset() is not None
        found = "<time>"
    elif isinstance(value, BulkResult):
        found = {"ok": {normal(k, ids, "job_id"): normal(v, ids) for k, v in value.ok.items()},
                 "failed": {normal(k, ids, "job_id"): type(e).__name__ for k, e in value.failed.items()}}
    elif attrs.has(type(value)):
        fields = attrs.asdict(value, recurse=False)
        found = {"type": type(value).__name__, **{k: normal(v, ids, k) for k, v in fields.items()}}
    elif isinstance(value, dict):
        found = {k: normal(v, ids, k) for k, v in value.items() if k != "id"}
    elif isinstance(value, list | tuple):
        found = [normal(v, ids) for v in value]
    elif isinstance(value, str):
        found = re.sub(r"JobID = (\d+)", lambda m: f"JobID = {normal(int(m[1]), ids, 'job_id')}", value)
    return found


def test_same_results_embedded_and_remote(served: Served) -> None:
    alice = served.iw.identity("alice")
    pilot_id = served.iw.identity("pilot", "demo_pilot")
    local, local_ids = scenario(served.iw.wms, served.iw.wms, alice, pilot_id)
    user, pilot = served.remote("alice").wms, served.remote("pilot", "demo_pilot").wms
    remote, remote_ids = scenario(user, pilot, alice, pilot_id)
    assert set(remote_ids).isdisjoint(local_ids)
    assert normal(remote, remote_ids) == normal(local, local_ids)
    # and the transcript says what it should (equal but empty would prove nothing)
    a, b, c = remote_ids
    assert all(isinstance(j, SubmittedJob) and j.status is JobStatus.WAITING for j in remote["submitted"])
    page: SearchPage = remote["page"]
    assert [r["JobID"] for r in page.rows] == [c, b] and (page.total, page.first, page.last) == (3, 0, 1)
    assert page.rows[0]["Status"] == "Waiting" and isinstance(page.rows[0]["SubmissionTime"], datetime)
    assert (remote["past_end"].rows, remote["past_end"].total, remote["past_end"].first) == ([], 3, 4)
    keyset: SearchPage = remote["keyset"]
    assert [r["JobID"] for r in keyset.rows] == [b] and (keyset.total, keyset.first) == (3, 1)
    assert remote["summary"] == [{"Status": "Waiting", "Site": "ANY", "count": 1},
                                 {"Status": "Waiting", "Site": "DIRAC.B.fr", "count": 2}]
    matched: MatchedJob = remote["matched"]
    assert matched.job_id == a and matched.owner == "alice" and f"JobID = {a}" in matched.jdl
    assert remote["beat"].ok == {a: []}
    state: JobState = remote["status"].ok[a]
    assert state.status is JobStatus.RUNNING and state.application_status == "working"
    assert remote["killed"].ok == {a: JobStatus.KILLED, b: JobStatus.KILLED}
    assert isinstance(remote["killed"].failed[MISSING], NotFound)
    assert remote["kill_command"].ok == {a: [JobCommand(a, "Kill", "")]}
    assert remote["no_more_work"] is None
    assert remote["history"][0]["status"] is JobStatus.RECEIVED and remote["history"][0]["job_id"] == a
    assert remote["logging"].rows[0]["LoggingInfo"][0]["Status"] == "Received"
    assert remote["errors"] == [NotFound.__name__, NotFound.__name__, JDLError.__name__,
                                InvalidQuery.__name__, InvalidQuery.__name__]
    assert remote["rescheduled"].ok == {c: 1} and isinstance(remote["rescheduled"].failed[b],
                                                              InvalidTransition)
    assert [set(r.failed) for r in remote["impossible_ids"][:3]] == [{0, -1}, {0}, {-5}]
    assert remote["impossible_ids"][3:] == [NotFound.__name__] * 2
    assert remote["deleted"].ok == dict.fromkeys((a, b, c), JobStatus.DELETED)


def test_rescheduling_counts_and_refusals_match(served: Served) -> None:
    alice = served.iw.identity("alice")
    local = served.iw.wms
    remote = served.remote("alice").wms
    results = []
    for wms in (local, remote):
        ids = [j.job_id for j in wms.submit([JDL_ELSEWHERE, JDL_ELSEWHERE], alice)]
        first = wms.reschedule(ids)
        wms.delete(ids[1:])
        second = wms.reschedule(ids, reset=True)
        results.append((normal(first, ids), normal(second, ids)))
        assert first.ok == {ids[0]: 1, ids[1]: 1}
        assert second.ok == {ids[0]: 0} and isinstance(second.failed[ids[1]], InvalidTransition)
    assert results[0] == results[1]


def test_submit_sends_twenty_jdls_per_request(served: Served) -> None:
    recorder = Recording()
    remote = served.remote("alice", transport=recorder).wms
    submitted = remote.submit([JDL_ELSEWHERE] * 45)
    assert len({j.job_id for j in submitted}) == 45
    assert recorder.sent == [("POST", "/api/jobs/jdl")] * 3
    assert remote.search(["JobID"], per_page=100).total == 45

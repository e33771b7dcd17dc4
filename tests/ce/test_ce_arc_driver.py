"""The ARC CE driver against a scripted A-REX (httpx.MockTransport): protocol details and errors.

The real server runs in test_ce_arc.py; here each test says exactly what
A-REX answers, including its JSON quirks (one element is an object, none is
an empty body) and its failures.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from dirac_core.config.queues import Queue
from dirac_core.config.sections import ArcCE, BatchCE
from dirac_core.errors import CEError, CEUnreachable, ConfigError, NotFound, PluginError
from dirac_core.model.pilot import PilotStatus
from dirac_core.plugins.computing import CEContext
from dirac_core.testing.pki import TestCA
from dirac_plugins_ce.arc import ArcComputingElement

URL = "https://ce.example.org/arex"
BASE = "/arex/rest/1.0"
PREFIX = "arc://ce.example.org:443/"


class FakeArex:
    """Answers REST calls from ``jobs`` (id -> dict of REST state, internal state, failure, files)."""

    def __init__(self) -> None:
        self.jobs: dict[str, dict[str, Any]] = {}
        self.requests: list[httpx.Request] = []
        self.refuse: dict[str, tuple[int, str]] = {}  # xRSL fragment -> (code, reason) for job creation
        self.fail_put = False
        self.kill_code = 202
        self.glue2: httpx.Response | None = None
        self.counter = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix(BASE)
        action = request.url.params.get("action")
        if path == "/jobs" and action == "new":
            return self._new(request.content.decode())
        if path == "/jobs" and action in ("status", "kill", "clean"):
            return self._bulk(action, json.loads(request.content)["job"])
        if path == "/jobs":
            ids = [{"id": job_id} for job_id in self.jobs]
            if not ids:
                return httpx.Response(200, content=b"")
            return httpx.Response(200, json={"job": ids[0] if len(ids) == 1 else ids})
        if path == "/info":
            return self.glue2 or httpx.Response(200, json={})
        return self._job(request, path.strip("/").split("/"))

    def _job(self, request: httpx.Request, parts: list[str]) -> httpx.Response:
        """jobs/<id>/diagnose/<what> and jobs/<id>/session/<file>."""
        job = self.jobs.get(parts[1])
        if job is None:
            return httpx.Response(404)
        if parts[2] == "diagnose":
            value = {"status": job.get("internal"), "failed": job.get("failure")}.get(parts[3])
            return httpx.Response(404) if value is None else httpx.Response(200, text=value)
        if request.method == "PUT":
            if self.fail_put:
                return httpx.Response(500, text="disk full")
            job.setdefault("files", {})[parts[3]] = request.content
            return httpx.Response(200)
        content = job.get("files", {}).get(parts[3])
        return httpx.Response(404) if content is None else httpx.Response(200, content=content)

    def _new(self, xrsl: str) -> httpx.Response:
        descriptions = xrsl[2:-1].split(")(&") if xrsl.startswith("+") else [xrsl]
        answers = []
        for text in descriptions:
            refused = next((v for k, v in self.refuse.items() if k in text), None)
            if refused:
                answers.append({"status-code": str(refused[0]), "reason": refused[1]})
                continue
            self.counter += 1
            job_id = f"job{self.counter}"
            self.jobs[job_id] = {"rest": "ACCEPTING", "internal": "PREPARING", "xrsl": text}
            answers.append({"status-code": "201", "reason": "Created", "id": job_id, "state": "ACCEPTING"})
        return httpx.Response(201, json={"job": answers[0] if len(answers) == 1 else answers})

    def _bulk(self, action: str, items: list[dict[str, str]]) -> httpx.Response:
        answers = []
        for item in items:
            job = self.jobs.get(item["id"])
            if job is None:
                answers.append({"status-code": "404", "reason": "Job not found", "id": item["id"]})
            elif action == "status":
                answers.append({"status-code": "200", "reason": "OK", "id": item["id"], "state": job["rest"]})
            elif action == "kill":
                answers.append({"status-code": str(self.kill_code), "reason": "Queued", "id": item["id"]})
                job["killed"] = True
            else:
                del self.jobs[item["id"]]
                answers.append({"status-code": "202", "reason": "Queued for cleaning", "id": item["id"]})
        return httpx.Response(201, json={"job": answers[0] if len(answers) == 1 else answers})

    def paths(self, method: str | None = None) -> list[str]:
        return [f"{r.url.path.removeprefix(BASE)}?{r.url.query.decode()}".rstrip("?")
                for r in self.requests if method is None or r.method == method]


@pytest.fixture
def arex() -> FakeArex:
    return FakeArex()


@pytest.fixture
def ce(arex: FakeArex) -> ArcComputingElement:
    return ArcComputingElement(URL, queue="long", transport=httpx.MockTransport(arex))


# --- submit ---------------------------------------------------------------------


def test_submit_describes_all_pilots_in_one_request_and_uploads_the_script(
        ce: ArcComputingElement, arex: FakeArex) -> None:
    res = ce.submit("#!/bin/sh\necho hi\n", ["s1", "s2"])
    assert res.ok == {"s1": PREFIX + "job1", "s2": PREFIX + "job2"}
    creation = arex.requests[0]
    assert creation.headers["content-type"] == "application/rsl"
    assert creation.content.decode().startswith("+(&")
    assert '"DIRAC_PILOT_STAMP" "s2"' in arex.jobs["job2"]["xrsl"]
    assert '(queue="long")' in arex.jobs["job1"]["xrsl"]
    assert arex.jobs["job1"]["files"] == {"pilot.sh": b"#!/bin/sh\necho hi\n"}
    assert arex.jobs["job2"]["files"] == {"pilot.sh": b"#!/bin/sh\necho hi\n"}


def test_submit_nothing_sends_nothing(ce: ArcComputingElement, arex: FakeArex) -> None:
    assert len(ce.submit("x", [])) == 0
    assert arex.requests == []


def test_a_refused_pilot_fails_alone(ce: ArcComputingElement, arex: FakeArex) -> None:
    arex.refuse['"bad"'] = (500, "Requested queue is not allowed")
    res = ce.submit("#!/bin/sh\n", ["good", "bad"])
    assert set(res.ok) == {"good"}
    error = res.failed["bad"]
    assert type(error) is CEError and "not allowed" in str(error)
    assert error.fields["status"] == 500


def test_failed_upload_fails_the_pilot_and_kills_its_job(ce: ArcComputingElement, arex: FakeArex) -> None:
    arex.fail_put = True
    res = ce.submit("#!/bin/sh\n", ["s"])
    assert isinstance(res.failed["s"], CEError) and "disk full" in str(res.failed["s"])
    assert arex.jobs["job1"].get("killed")


def test_refused_request_raises_with_status_and_body() -> None:
    def forbidden(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, text="User can't be assigned configuration")

    ce = ArcComputingElement(URL, transport=httpx.MockTransport(forbidden))
    with pytest.raises(CEError) as info:
        ce.submit("x", ["s"])
    assert info.value.fields["status"] == 403
    assert "assigned configuration" in info.value.fields["body"]
    assert "403" in str(info.value)


# --- status ---------------------------------------------------------------------


def test_final_rest_state_needs_no_diagnose_call(ce: ArcComputingElement, arex: FakeArex) -> None:
    ref = ce.submit("x", ["s"]).ok["s"]
    arex.jobs["job1"]["rest"] = "KILLED"
    arex.requests.clear()
    assert ce.status([ref]).ok == {ref: PilotStatus.ABORTED}
    assert arex.paths() == ["/jobs?action=status"]


def test_internal_state_overtakes_the_late_rest_state(ce: ArcComputingElement, arex: FakeArex) -> None:
    refs = ce.submit("x", ["done", "failed", "killed", "running"]).ok
    arex.jobs["job1"].update(rest="ACCEPTED", internal="FINISHED")
    arex.jobs["job2"].update(rest="ACCEPTED", internal="FINISHED", failure="LRMS error: (1) exit code 1")
    arex.jobs["job3"].update(rest="RUNNING", internal="FINISHED",
                             failure="Job is canceled by external request")
    arex.jobs["job4"].update(rest="RUNNING", internal="INLRMS")
    res = ce.status(list(refs.values()))
    assert [res.ok[refs[s]] for s in ("done", "failed", "killed", "running")] == [
        PilotStatus.DONE, PilotStatus.FAILED, PilotStatus.ABORTED, PilotStatus.RUNNING]


def test_unknown_and_foreign_references_are_not_found(ce: ArcComputingElement, arex: FakeArex) -> None:
    foreign = "arc://other.example.org:443/job1"
    res = ce.status([PREFIX + "job99", foreign, "garbage", PREFIX + "bad id/../x"])
    assert len(res.failed) == 4 and all(isinstance(e, NotFound) for e in res.failed.values())
    assert arex.paths() == ["/jobs?action=status"]  # only the well-formed reference was asked


def test_job_vanishing_between_calls_is_not_found(ce: ArcComputingElement, arex: FakeArex) -> None:
    ref = ce.submit("x", ["s"]).ok["s"]
    del arex.jobs["job1"]["internal"]  # diagnose/status now answers 404
    assert isinstance(ce.status([ref]).failed[ref], NotFound)


def test_status_chunks_large_requests(ce: ArcComputingElement, arex: FakeArex) -> None:
    refs = list(ce.submit("x", [f"s{i}" for i in range(120)]).ok.values())
    for job in arex.jobs.values():
        job["rest"] = "FINISHED"
    arex.requests.clear()
    assert set(ce.status(refs).ok.values()) == {PilotStatus.DONE}
    assert arex.paths() == ["/jobs?action=status"] * 2


# --- kill, clean, output --------------------------------------------------------


def test_kill(ce: ArcComputingElement, arex: FakeArex) -> None:
    ref = ce.submit("x", ["s"]).ok["s"]
    res = ce.kill([ref, PREFIX + "job99"])
    assert res.ok == {ref: None} and isinstance(res.failed[PREFIX + "job99"], NotFound)


def test_kill_refused_for_an_ended_job_is_success(ce: ArcComputingElement, arex: FakeArex) -> None:
    refs = ce.submit("x", ["ended", "alive"]).ok
    arex.jobs["job1"]["rest"] = "FINISHED"
    arex.kill_code = 409
    res = ce.kill([refs["ended"], refs["alive"]])
    assert res.ok == {refs["ended"]: None}
    assert type(res.failed[refs["alive"]]) is CEError


def test_clean_then_unknown(ce: ArcComputingElement, arex: FakeArex) -> None:
    ref = ce.submit("x", ["s"]).ok["s"]
    assert ce.clean([ref]).all_ok
    assert isinstance(ce.status([ref]).failed[ref], NotFound)
    assert isinstance(ce.clean([ref]).failed[ref], NotFound)


def test_output(ce: ArcComputingElement, arex: FakeArex) -> None:
    ref = ce.submit("x", ["s"]).ok["s"]
    assert ce.output(ref) == ("", "")  # nothing written yet
    arex.jobs["job1"]["files"].update({"pilot.out": b"out \xff\n", "pilot.err": b"err\n"})
    assert ce.output(ref) == ("out \ufffd\n", "err\n")
    with pytest.raises(NotFound):
        ce.output(PREFIX + "job99")
    with pytest.raises(NotFound):
        ce.output("memory://x/1")


# --- ce_status ------------------------------------------------------------------


def glue2(free: str) -> httpx.Response:
    share = {"Name": "long", "MappingQueue": "long", "FreeSlots": free}
    return httpx.Response(200, json={"Domains": {"AdminDomain": {"Services": {
        "ComputingService": {"ComputingShare": share}}}}})


def test_ce_status_without_jobs(ce: ArcComputingElement, arex: FakeArex) -> None:
    arex.glue2 = glue2("5")
    assert (ce.ce_status().running, ce.ce_status().waiting, ce.ce_status().available_processors) == (0, 0, 5)


def test_ce_status_counts_jobs(ce: ArcComputingElement, arex: FakeArex) -> None:
    ce.submit("x", ["a"])
    arex.glue2 = httpx.Response(500, text="no info")
    status = ce.ce_status()  # a single job: A-REX renders it as an object, not a list
    assert (status.running, status.waiting, status.available_processors) == (0, 1, None)
    ce.submit("x", ["b", "c"])
    arex.jobs["job2"].update(rest="RUNNING", internal="INLRMS")
    arex.jobs["job3"].update(rest="FINISHED")
    status = ce.ce_status()
    assert (status.running, status.waiting) == (1, 1)


# --- transport errors and credentials -----------------------------------------


def test_connection_refused_is_unreachable_with_the_url() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound but not listening: connections are refused
        ce = ArcComputingElement(f"https://127.0.0.1:{port}/arex", timeout=5.0)
        with pytest.raises(CEUnreachable) as info:
            ce.status([ce.reference("job1")])
    assert info.value.fields["url"] == f"https://127.0.0.1:{port}/arex"
    assert f"127.0.0.1:{port}" in str(info.value)


@pytest.mark.parametrize("error", [httpx.ConnectTimeout("slow"), httpx.ReadError("reset")])
def test_network_errors_are_unreachable(error: Exception) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error

    ce = ArcComputingElement(URL, transport=httpx.MockTransport(fail))
    with pytest.raises(CEUnreachable):
        ce.ce_status()


def test_bearer_token_is_read_from_its_file_at_each_request(tmp_path: Path, arex: FakeArex) -> None:
    token = tmp_path / "token"
    token.write_text("first-token\n")
    ce = ArcComputingElement(URL, token_file=str(token), transport=httpx.MockTransport(arex))
    ce.status([ce.reference("job1")])
    token.write_text("renewed-token")
    ce.status([ce.reference("job1")])
    assert [r.headers["authorization"] for r in arex.requests] == ["Bearer first-token",
                                                                   "Bearer renewed-token"]
    token.unlink()
    with pytest.raises(CEError, match="token file"):
        ce.status([ce.reference("job1")])


def test_unreadable_credentials_are_a_ce_error(tmp_path: Path) -> None:
    with pytest.raises(CEError, match="TLS credentials"):
        ArcComputingElement(URL, cert_file=str(tmp_path / "missing.pem"))


def test_url_and_reference_forms() -> None:
    ce = ArcComputingElement("https://ce.example.org:8443")
    assert ce.url == "https://ce.example.org:8443/arex"
    assert ce.reference("abc") == "arc://ce.example.org:8443/abc"
    assert ce.job_id("arc://ce.example.org:8443/abc") == "abc"
    with pytest.raises(ValueError, match="http"):
        ArcComputingElement("ftp://ce.example.org/")


# --- from_section ---------------------------------------------------------------


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    ca = TestCA(tmp_path_factory.mktemp("pki"))
    ca.user_cert()
    return ca


SectionMaker = Callable[..., ArcCE]


@pytest.fixture
def section() -> SectionMaker:
    def make(**options: Any) -> ArcCE:
        return ArcCE(name="arc-ce", url="https://ce.example.org:443/arex", xrsl_extra="(x=1)",
                     options=options)
    return make


def test_from_section_with_certificate_options(pki: TestCA, section: SectionMaker, tmp_path: Path) -> None:
    ce = ArcComputingElement.from_section(
        section(cert=str(pki.directory / "usercert.pem"), key=str(pki.directory / "userkey.pem"),
                ca=str(pki.files.cert), timeout=5),
        Queue(name="long", processors=8), CEContext(work_dir=str(tmp_path), token_file="/tok"))
    assert (ce.queue, ce.processors, ce.xrsl_extra) == ("long", 8, "(x=1)")
    assert ce.cert_file == str(pki.directory / "usercert.pem")
    assert ce.key_file == str(pki.directory / "userkey.pem")
    assert ce.ca == str(pki.files.cert)
    assert ce.token_file == "/tok"  # the context's token, as the section names none


def test_from_section_uses_the_context_proxy(pki: TestCA, section: SectionMaker, tmp_path: Path) -> None:
    proxy = tmp_path / "proxy.pem"
    proxy.write_bytes((pki.directory / "usercert.pem").read_bytes()
                      + (pki.directory / "userkey.pem").read_bytes())
    ce = ArcComputingElement.from_section(section(ca=str(pki.directory), token_file="/mine"), Queue(name="q"),
                                          CEContext(work_dir=str(tmp_path), proxy_file=str(proxy),
                                                    token_file="/theirs"))
    assert (ce.cert_file, ce.key_file, ce.token_file) == (str(proxy), None, "/mine")


def test_from_section_refusals(section: SectionMaker, tmp_path: Path) -> None:
    context = CEContext(work_dir=str(tmp_path))
    with pytest.raises(ConfigError) as info:
        ArcComputingElement.from_section(section(cert=3, timeout="soon"), Queue(name="q"), context)
    assert {path for path, _ in info.value.problems} == {"options.cert", "options.timeout"}
    emies = ArcCE(name="arc-ce", url="https://ce.example.org/arex", interface="emies")
    with pytest.raises(ConfigError, match="interface"):
        ArcComputingElement.from_section(emies, Queue(name="q"), context)
    with pytest.raises(PluginError):
        ArcComputingElement.from_section(BatchCE(name="b", batch_system="slurm"), Queue(name="q"), context)

"""The HTCondor-CE driver, against a schedd replaying recorded answers (tests/ce/samples/htcondorce)."""

from __future__ import annotations

import importlib
import os
import socket
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from htcondorce_replay import HTCondorException, ReplaySchedd, load, recorded_error

from dirac_core.config.queues import Queue
from dirac_core.config.sections import CloudCE, HTCondorCE
from dirac_core.errors import CEError, CEUnreachable, NotFound, PluginError, PluginUnavailable
from dirac_core.model.pilot import PilotStatus
from dirac_core.plugins.computing import CEContext
from dirac_core.testing.conformance import PILOT_SCRIPT, ComputingElementSuite
from dirac_core.testing.databases import skip_or_fail
from dirac_plugins_ce.htcondorce import PROJECTION, HTCondorCEComputingElement, build_description, job_status
from dirac_plugins_ce.htcondorce_schedd import BindingsSchedd, translate_error

ROOT = Path(__file__).resolve().parents[2]
QUEUE = Queue(name="long", processors=8, max_ram_mb=16000, max_wall_time=172790)
SCRIPT = "#!/bin/sh\necho \"pilot $DIRAC_PILOT_STAMP\"\n"


def make_ce(tmp_path: Path, schedd: Any, **options: Any) -> HTCondorCEComputingElement:
    options.setdefault("queue", QUEUE)
    return HTCondorCEComputingElement(name="ce-test", host="ce.example.org", jobs_dir=tmp_path / "jobs",
                                      schedd=schedd, **options)


def ref(job_id: str) -> str:
    return f"htcondorce://ce-test/{job_id}"


class TestGridUniverseConformance(ComputingElementSuite):
    capabilities = frozenset({"output"})

    @pytest.fixture
    def driver(self, tmp_path: Path) -> HTCondorCEComputingElement:
        return make_ce(tmp_path, ReplaySchedd())


class TestRemoteScheddConformance(ComputingElementSuite):
    capabilities = frozenset({"output"})

    @pytest.fixture
    def driver(self, tmp_path: Path) -> HTCondorCEComputingElement:
        return make_ce(tmp_path, ReplaySchedd(), use_local_schedd=False)


# -- the submit description ----------------------------------------------------


def test_grid_universe_description(tmp_path: Path) -> None:
    description = make_ce(tmp_path, ReplaySchedd(), token_file="/run/dirac/token").description("/j/pilot.sh")
    assert description == {
        "universe": "grid",
        "grid_resource": "condor ce.example.org ce.example.org:9619",
        "executable": "/j/pilot.sh",
        "transfer_executable": "true",
        "initialdir": str(tmp_path / "jobs"),
        "output": "$(Cluster).$(Process).out",
        "error": "$(Cluster).$(Process).err",
        "log": "$(Cluster).log",
        "environment": '"DIRAC_PILOT_STAMP=$(stamp) HTCONDOR_JOBID=$(Cluster).$(Process)"',
        "+DiracCE": '"ce-test"',
        "+DiracQueue": '"long"',
        "+DiracPilotStamp": '"$(stamp)"',
        "+xcount": "8",
        "+maxMemory": "16000",
        "+maxWallTime": "2880",  # 172790 s, rounded up to minutes
        "use_scitokens": "true",
        "scitokens_file": "/run/dirac/token",
        "periodic_remove": "(JobStatus == 5) && (time() - EnteredCurrentStatus) > 86400",
        "kill_sig": "SIGTERM",
    }


def test_remote_schedd_description() -> None:
    description = build_description(ce_name="ce-test", host="ce.example.org", port=9620,
                                     queue=Queue(name="short"), executable="/j/p.sh", grid=False,
                                     proxy_file="/tmp/x509up_u1000")
    assert description["universe"] == "vanilla" and "grid_resource" not in description
    assert description["should_transfer_files"] == "YES"
    assert description["x509userproxy"] == "/tmp/x509up_u1000"
    assert description["+xcount"] == "1"
    assert not {"+maxMemory", "+maxWallTime", "scitokens_file", "use_scitokens"} & description.keys()


def test_description_quotes_classad_strings() -> None:
    description = build_description(ce_name='odd"name\\', host="h", port=1, queue=QUEUE, executable="x",
                                    grid=True)
    assert description["+DiracCE"] == '"odd\\"name\\\\"'
    assert build_description(ce_name="c", host="h", port=1, queue=QUEUE, executable="x",
                             grid=True, token_file=None).keys().isdisjoint({"scitokens_file"})


# -- submission ----------------------------------------------------------------


def test_submit_one_cluster_with_one_job_per_stamp(tmp_path: Path) -> None:
    schedd = ReplaySchedd()
    ce = make_ce(tmp_path, schedd)
    res = ce.submit(SCRIPT, ["s1", "s2", "s2", "bad stamp"])
    assert res.ok == {"s1": ref("5000.0"), "s2": ref("5000.1")}
    assert isinstance(res.failed["bad stamp"], CEError)
    ((description, items, spool),) = schedd.submissions
    assert items == [{"stamp": "s1"}, {"stamp": "s2"}] and spool is False
    script = Path(description["executable"])
    assert script.read_text() == SCRIPT and os.access(script, os.X_OK)
    assert script.parent == tmp_path / "jobs"
    ce.submit(SCRIPT, ["s3"])
    ce.submit(SCRIPT + "# v2\n", ["s4"])
    assert len(list((tmp_path / "jobs").glob("pilot-*.sh"))) == 2  # one file per distinct script
    assert schedd.submissions[1][0]["executable"] == str(script)


def test_remote_schedd_spools(tmp_path: Path) -> None:
    schedd = ReplaySchedd()
    make_ce(tmp_path, schedd, use_local_schedd=False).submit(SCRIPT, ["s1"])
    assert schedd.submissions[0][2] is True
    assert schedd.submissions[0][0]["universe"] == "vanilla"


def test_only_invalid_stamps_submit_nothing(tmp_path: Path) -> None:
    schedd = ReplaySchedd()
    res = make_ce(tmp_path, schedd).submit(SCRIPT, ["-x", ""])
    assert set(res.failed) == {"-x", ""} and schedd.calls == []


@pytest.mark.parametrize("key", ["submit_refused", "cluster_refused"])
def test_refused_submit_fails_every_stamp_with_the_message(tmp_path: Path, key: str) -> None:
    schedd = ReplaySchedd()
    schedd.failures["submit"] = recorded_error(key)
    res = make_ce(tmp_path, schedd).submit(SCRIPT, ["s1", "s2"])
    assert not res.ok
    for err in res.failed.values():
        assert type(err) is CEError and load("errors.json")[key] in str(err)
        assert isinstance(err.__cause__, HTCondorException)


def test_unreachable_schedd_on_submit(tmp_path: Path) -> None:
    schedd = ReplaySchedd()
    schedd.failures["submit"] = recorded_error("submit_unreachable")
    with pytest.raises(CEUnreachable, match=r"cannot reach the schedd to submit pilots.*CEDAR:6001"):
        make_ce(tmp_path, schedd).submit(SCRIPT, ["s1"])


def test_unwritable_job_directory(tmp_path: Path) -> None:
    (tmp_path / "jobs").write_text("a file where the directory should be")
    with pytest.raises(CEError, match="cannot write the pilot script"):
        make_ce(tmp_path, ReplaySchedd()).submit(SCRIPT, ["s1"])


# -- status --------------------------------------------------------------------

LOCAL_STATES = {
    "4201.0": PilotStatus.WAITING,   # idle, not yet forwarded to the CE
    "4201.1": PilotStatus.WAITING,   # idle here and there
    "4201.2": PilotStatus.RUNNING,   # idle here, running at the CE (the local schedd lags)
    "4201.3": PilotStatus.RUNNING,
    "4201.4": PilotStatus.ABORTED,   # removed
    "4201.5": PilotStatus.DONE,      # completed, exit code 0
    "4201.6": PilotStatus.WAITING,   # held while its input is spooled
    "4201.7": PilotStatus.ABORTED,   # held: over its memory limit at the CE
    "4201.8": PilotStatus.RUNNING,   # transferring output
    "4201.9": PilotStatus.RUNNING,   # suspended
    "4201.10": PilotStatus.FAILED,   # completed, exit code 1
    "4201.11": PilotStatus.RUNNING,  # done at the CE, output on its way back
    "4188.0": PilotStatus.DONE,      # in the history
    "4188.1": PilotStatus.ABORTED,
    "4188.2": PilotStatus.FAILED,    # killed by signal 9
}


def test_status_of_every_recorded_job(tmp_path: Path) -> None:
    schedd = ReplaySchedd.from_samples("local_queue.json", "local_history.json")
    res = make_ce(tmp_path, schedd).status([ref(job_id) for job_id in LOCAL_STATES])
    assert res.all_ok
    assert res.ok == {ref(job_id): status for job_id, status in LOCAL_STATES.items()}
    ((constraint, projection, match),) = schedd.calls_to("history")  # only for what the queue lacks
    assert constraint == ("(ClusterId == 4188 && ProcId == 0) || (ClusterId == 4188 && ProcId == 1) || "
                          "(ClusterId == 4188 && ProcId == 2)")
    assert projection == PROJECTION and match == 3


def test_status_of_remote_schedd_jobs(tmp_path: Path) -> None:
    schedd = ReplaySchedd.from_samples("remote_queue.json")
    res = make_ce(tmp_path, schedd, use_local_schedd=False).status([ref("318842.0"), ref("318842.1")])
    assert res.ok == {ref("318842.0"): PilotStatus.WAITING, ref("318842.1"): PilotStatus.RUNNING}
    assert schedd.calls_to("history") == []


@pytest.mark.parametrize(("ad", "expected"), [
    ({}, PilotStatus.UNKNOWN),
    ({"JobStatus": 8}, PilotStatus.UNKNOWN),
    ({"JobStatus": "2"}, PilotStatus.UNKNOWN),
    ({"JobStatus": True}, PilotStatus.UNKNOWN),
    ({"JobStatus": 4}, PilotStatus.DONE),
    ({"JobStatus": 1, "GridJobStatus": "running"}, PilotStatus.RUNNING),
    ({"JobStatus": 5, "HoldReasonCode": 3, "HoldReasonSubCode": 55}, PilotStatus.ABORTED),
])
def test_job_status_edge_cases(ad: dict[str, Any], expected: PilotStatus) -> None:
    assert job_status(ad) is expected


def test_status_unknown_and_foreign_references(tmp_path: Path) -> None:
    schedd = ReplaySchedd.from_samples("local_queue.json", "local_history.json")
    res = make_ce(tmp_path, schedd).status([ref("9999.0"), "htcondorce://other-ce/4201.0", ref("4201"),
                                            "no-such-reference"])
    assert not res.ok and len(res.failed) == 4
    assert all(isinstance(err, NotFound) for err in res.failed.values())
    assert "neither queued nor in the history" in str(res.failed[ref("9999.0")])
    assert len(schedd.calls_to("query")) == 1  # malformed references are not asked for


def test_status_queries_in_chunks_of_100(tmp_path: Path) -> None:
    schedd = ReplaySchedd()
    make_ce(tmp_path, schedd).status([ref(f"7000.{i}") for i in range(250)])
    queries = schedd.calls_to("query")
    assert [q[0].count("ClusterId ==") for q in queries] == [100, 100, 50]
    assert [h[2] for h in schedd.calls_to("history")] == [100, 100, 50]


@pytest.mark.parametrize(("method", "key"), [("query", "query_unreachable"),
                                             ("history", "history_unreachable")])
def test_unreachable_schedd_on_status(tmp_path: Path, method: str, key: str) -> None:
    schedd = ReplaySchedd()
    schedd.failures[method] = recorded_error(key)
    with pytest.raises(CEUnreachable) as info:
        make_ce(tmp_path, schedd).status([ref("1.0")])
    assert load("errors.json")[key] in str(info.value)


# -- kill ----------------------------------------------------------------------


def test_kill_removes_live_jobs_only(tmp_path: Path) -> None:
    schedd = ReplaySchedd.from_samples("local_queue.json", "local_history.json")
    ce = make_ce(tmp_path, schedd)
    res = ce.kill([ref("4201.3"), ref("4201.5"), ref("4188.0"), ref("4201.4"), ref("9999.0")])
    assert set(res.ok) == {ref("4201.3"), ref("4201.5"), ref("4188.0"), ref("4201.4")}
    assert isinstance(res.failed[ref("9999.0")], NotFound)
    assert schedd.calls_to("remove") == [(("4201.3",),)]  # completed and removed jobs are left alone
    assert ce.status([ref("4201.3")]).ok == {ref("4201.3"): PilotStatus.ABORTED}
    assert ce.kill([ref("4201.3")]).all_ok
    assert len(schedd.calls_to("remove")) == 1


def test_kill_removes_held_jobs(tmp_path: Path) -> None:
    schedd = ReplaySchedd.from_samples("local_queue.json")
    assert make_ce(tmp_path, schedd).kill([ref("4201.7")]).all_ok
    assert "4201.7" in schedd.finished


def test_kill_refused(tmp_path: Path) -> None:
    schedd = ReplaySchedd.from_samples("local_queue.json")
    schedd.remove_answer = load("remove_answers.json")["permission_denied"]
    res = make_ce(tmp_path, schedd).kill([ref("4201.0"), ref("4201.5")])
    assert set(res.ok) == {ref("4201.5")}
    err = res.failed[ref("4201.0")]
    assert type(err) is CEError and "did not remove job 4201.0" in str(err)
    assert "TotalPermissionDenied=1" in str(err)


def test_kill_failing_action(tmp_path: Path) -> None:
    schedd = ReplaySchedd.from_samples("local_queue.json")
    schedd.failures["remove"] = recorded_error("act_failed")
    res = make_ce(tmp_path, schedd).kill([ref("4201.0"), ref("4201.1")])
    assert len(res.failed) == 2
    assert all("Error when performing action on the schedd." in str(e) for e in res.failed.values())


# -- output --------------------------------------------------------------------


def test_output_brought_back_by_the_gridmanager(tmp_path: Path) -> None:
    schedd = ReplaySchedd()
    ce = make_ce(tmp_path, schedd)
    reference = ce.submit(SCRIPT, ["s1"]).ok["s1"]
    assert ce.output(reference) == ("", "")  # running: nothing yet
    recorded = ((ROOT / "tests/ce/samples/htcondorce/pilot.out").read_text(),
                (ROOT / "tests/ce/samples/htcondorce/pilot.err").read_text())
    schedd.finish("5000.0", output=recorded)
    assert ce.output(reference) == recorded
    assert ce.status([reference]).ok == {reference: PilotStatus.DONE}
    assert schedd.calls_to("retrieve") == []


def test_output_retrieved_from_the_remote_schedd(tmp_path: Path) -> None:
    schedd = ReplaySchedd()
    ce = make_ce(tmp_path, schedd, use_local_schedd=False)
    reference = ce.submit(SCRIPT, ["s1"]).ok["s1"]
    schedd.finish("5000.0", exit_code=1, output=("out\n", "err\n"), spooled=True)
    assert not (tmp_path / "jobs" / "5000.0.out").exists()
    assert ce.output(reference) == ("out\n", "err\n")
    assert schedd.calls_to("retrieve") == [(("5000.0",),)]
    assert ce.status([reference]).ok == {reference: PilotStatus.FAILED}


def test_output_errors(tmp_path: Path) -> None:
    schedd = ReplaySchedd()
    ce = make_ce(tmp_path, schedd, use_local_schedd=False)
    with pytest.raises(NotFound):
        ce.output(ref("1234.0"))
    with pytest.raises(NotFound):
        ce.output("htcondorce://elsewhere/1.0")
    schedd.failures["retrieve"] = recorded_error("retrieve_unreachable")
    with pytest.raises(CEUnreachable, match="receiveJobSandbox"):
        ce.output(ref("1234.0"))


# -- ce_status -----------------------------------------------------------------


def test_ce_status_counts_our_queue_only(tmp_path: Path) -> None:
    schedd = ReplaySchedd.from_samples("local_queue.json")
    status = make_ce(tmp_path, schedd).ce_status()
    # 4201.*: waiting 0, 1, 6; running 2, 3, 8, 9, 11 (4202.0 is another queue, 4203.0 another CE)
    assert (status.running, status.waiting) == (5, 3)
    ((constraint, _),) = schedd.calls_to("query")
    assert constraint == 'DiracCE == "ce-test" && DiracQueue == "long"'


def test_ce_status_unreachable(tmp_path: Path) -> None:
    schedd = ReplaySchedd()
    schedd.failures["query"] = recorded_error("query_unreachable")
    with pytest.raises(CEUnreachable):
        make_ce(tmp_path, schedd).ce_status()


# -- errors, configuration, loading --------------------------------------------


@pytest.mark.parametrize(("key", "unreachable"), [
    ("submit_unreachable", True), ("query_unreachable", True), ("history_unreachable", True),
    ("retrieve_unreachable", True), ("collector_unreachable", True), ("no_local_schedd", True),
    ("act_failed", False), ("submit_refused", False), ("cluster_refused", False),
])
def test_translate_recorded_errors(key: str, unreachable: bool) -> None:
    err = translate_error(recorded_error(key), action="act", ce="ce-test")
    assert isinstance(err, CEUnreachable) is unreachable
    assert isinstance(err, CEError) and load("errors.json")[key] in str(err)


def test_translate_os_errors() -> None:
    assert isinstance(translate_error(ConnectionResetError("reset"), action="a", ce="c"), CEUnreachable)


def section(**fields: Any) -> HTCondorCE:
    return HTCondorCE(name="ce-test", host="ce.example.org", **fields)


def test_from_section(tmp_path: Path) -> None:
    context = CEContext(work_dir=str(tmp_path), token_file="/ctx/token", proxy_file="/ctx/proxy")
    ce = HTCondorCEComputingElement.from_section(section(port=9620, token_file="/sec/token"), QUEUE, context)
    assert ce.jobs_dir == tmp_path / "htcondorce" / "ce-test" / "long"
    description = ce.description("/x")
    assert description["grid_resource"] == "condor ce.example.org ce.example.org:9620"
    assert description["scitokens_file"] == "/sec/token" and description["x509userproxy"] == "/ctx/proxy"
    remote = HTCondorCEComputingElement.from_section(section(use_local_schedd=False), QUEUE, context)
    assert remote.token_file == "/ctx/token" and remote.description("/x")["universe"] == "vanilla"
    with pytest.raises(PluginError, match="needs an HTCondorCE section"):
        HTCondorCEComputingElement.from_section(
            CloudCE(name="c", driver="dummy", image="i", flavour="f"), QUEUE, context)


def test_missing_bindings_are_plugin_unavailable_at_first_use(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "htcondor2", None)
    ce = make_ce(tmp_path, None)  # building it needs no bindings
    with pytest.raises(PluginUnavailable) as info:
        ce.ce_status()
    assert info.value.missing == "htcondor2"


def test_module_imports_without_bindings() -> None:
    code = "import sys; sys.modules['htcondor2'] = None; import dirac_plugins_ce.htcondorce"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_entry_point_is_declared() -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]
    assert (declared["dirac.computing_elements"]["htcondorce"]
            == "dirac_plugins_ce.htcondorce:HTCondorCEComputingElement")


# -- the real bindings (optional: htcondor is not a declared extra) ------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bindings(name: str) -> Any:
    """The real bindings module (the ``htcondor`` extra, in ``all``): skipped when missing, except in
    CI, where a missing extra fails the test."""
    try:
        return importlib.import_module(name)
    except ImportError:
        skip_or_fail(f"{name} is not installed (pip install 'dirac-core[htcondor]')")


def test_bindings_build_a_submit_from_our_description(tmp_path: Path) -> None:
    htcondor = _bindings("htcondor2")
    description = make_ce(tmp_path, None, token_file="/run/token").description("/j/pilot.sh")
    submit = BindingsSchedd(None, htcondor).make_submit(description)
    assert isinstance(submit, htcondor.Submit)
    text = str(submit)
    for line in ("universe = grid", "grid_resource = condor ce.example.org ce.example.org:9619",
                 "executable = /j/pilot.sh", "scitokens_file = /run/token"):
        assert line in text
    assert submit["MY.xcount"] == "8" and submit["MY.DiracCE"] == '"ce-test"'


def test_bindings_unreachable_schedd_is_ce_unreachable(tmp_path: Path) -> None:
    htcondor = _bindings("htcondor2")
    classad = _bindings("classad2")
    port = _closed_port()
    location = classad.ClassAd({"MyAddress": f"<127.0.0.1:{port}>", "Name": "nowhere",
                                "MyType": "Scheduler", "CondorVersion": htcondor.version()})
    ce = make_ce(tmp_path, BindingsSchedd(htcondor.Schedd(location), htcondor))
    with pytest.raises(CEUnreachable, match="CEDAR:6001"):
        ce.status([ref("1.0")])
    with pytest.raises(CEUnreachable):
        ce.submit(PILOT_SCRIPT, ["s1"])
    remote = HTCondorCEComputingElement(name="ce-test", host="127.0.0.1", port=port, queue=QUEUE,
                                        jobs_dir=tmp_path / "remote", use_local_schedd=False)
    with pytest.raises(CEUnreachable, match="find the schedd"):
        remote.ce_status()

"""The ARC CE driver against a real A-REX 6 (LRMS fork), started once per session.

Needs the Debian package ``nordugrid-arc-arex`` and root; without them these
tests skip (and fail when ``CI=true``). Timing: A-REX's fork scanner looks at
jobs every 10 s, so a pilot takes 6-20 s to be Done and a kill ~15 s to land;
the tests poll with a deadline and assert no timing.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from dirac_core.errors import CEError, CEUnreachable, NotFound
from dirac_core.model.pilot import PilotStatus
from dirac_core.plugins.computing import ComputingElement
from dirac_core.testing.arc import ArcServer
from dirac_core.testing.conformance import ComputingElementSuite
from dirac_core.testing.pki import TestCA
from dirac_plugins_ce.arc import ArcComputingElement

DEADLINE = 180.0


def make_driver(server: ArcServer) -> ArcComputingElement:
    return ArcComputingElement(server.url, queue=server.queue, ca=str(server.ca_file),
                               cert_file=str(server.user_cert), key_file=str(server.user_key))


@pytest.fixture
def arc(arc_server: ArcServer) -> Iterator[ArcComputingElement]:
    with make_driver(arc_server) as driver:
        yield driver


def wait_for(driver: ArcComputingElement, ref: str, done: Callable[[PilotStatus], bool]) -> PilotStatus:
    """Poll the real CE until ``done(status)``; fails after DEADLINE seconds."""
    deadline = time.monotonic() + DEADLINE
    seen: list[PilotStatus] = []
    while time.monotonic() < deadline:
        status = driver.status([ref]).ok[ref]
        if not seen or seen[-1] is not status:
            seen.append(status)
        if done(status):
            return status
        time.sleep(1.0)
    pytest.fail(f"{ref} did not get there in {DEADLINE:.0f} s; statuses seen: {seen}")


class TestArcConformance(ComputingElementSuite):
    capabilities = frozenset({"output"})

    @pytest.fixture
    def driver(self, arc: ArcComputingElement) -> ComputingElement:
        return arc


#: a stamp xRSL must quote: spaces and double quotes reach the pilot unchanged
ODD_STAMP = 'live "quoted" stamp'


@pytest.fixture(scope="module")
def ended_pilots(arc_server: ArcServer) -> Iterator[tuple[ArcComputingElement, dict[str, str], str]]:
    """Pilots submitted together and polled until each is final (their waits overlap).

    Yields the driver, name -> reference (``done``: prints a marker and the
    stamp; ``failed``: exits 3; ``clean``: exits 0) and the marker.
    """
    marker = f"marker-{uuid.uuid4().hex}"
    scripts = {
        "done": f'#!/bin/sh\necho "{marker} stamp=$DIRAC_PILOT_STAMP"\necho "to-stderr" >&2\nexit 0\n',
        "failed": "#!/bin/sh\necho bad\nexit 3\n",
        "clean": "#!/bin/sh\nexit 0\n",
    }
    stamps = {"done": ODD_STAMP, "failed": "stamp-failed", "clean": "stamp-clean"}
    with make_driver(arc_server) as driver:
        refs = {name: driver.submit(script, [stamps[name]]).ok[stamps[name]]
                for name, script in scripts.items()}
        for ref in refs.values():
            wait_for(driver, ref, lambda s: s.is_final)
        yield driver, refs, marker


def test_pilot_runs_to_done_and_output_has_marker(
        ended_pilots: tuple[ArcComputingElement, dict[str, str], str]) -> None:
    driver, refs, marker = ended_pilots
    assert refs["done"].startswith("arc://127.0.0.1:")
    assert driver.status([refs["done"]]).ok == {refs["done"]: PilotStatus.DONE}
    out, err = driver.output(refs["done"])
    assert f"{marker} stamp={ODD_STAMP}" in out
    assert "to-stderr" in err


def test_failing_pilot_is_failed(ended_pilots: tuple[ArcComputingElement, dict[str, str], str]) -> None:
    driver, refs, _ = ended_pilots
    assert driver.status([refs["failed"]]).ok == {refs["failed"]: PilotStatus.FAILED}
    assert driver.output(refs["failed"])[0] == "bad\n"


def test_clean_removes_finished_pilot(ended_pilots: tuple[ArcComputingElement, dict[str, str], str]) -> None:
    driver, refs, _ = ended_pilots
    ref = refs["clean"]
    assert driver.clean([ref]).all_ok
    deadline = time.monotonic() + DEADLINE
    while ref in driver.status([ref]).ok:  # cleaning is asynchronous too
        assert time.monotonic() < deadline, "the cleaned job is still known"
        time.sleep(1.0)
    assert isinstance(driver.status([ref]).failed[ref], NotFound)


def test_kill_running_pilot_is_aborted(arc: ArcComputingElement) -> None:
    ref = arc.submit("#!/bin/sh\necho started\nexec sleep 120\n", ["stamp-long"]).ok["stamp-long"]
    # wait until A-REX has handed it to the LRMS, so that the kill hits a running job
    wait_for(arc, ref, lambda s: s is PilotStatus.RUNNING or s.is_final)
    assert arc.kill([ref]).all_ok
    assert wait_for(arc, ref, lambda s: s.is_final) is PilotStatus.ABORTED
    assert arc.kill([ref]).all_ok  # killing it again is fine


def test_ce_status_counts_a_waiting_or_running_pilot(arc: ArcComputingElement) -> None:
    ref = arc.submit("#!/bin/sh\nsleep 30\n", ["stamp-count"]).ok["stamp-count"]
    try:
        status = arc.ce_status()
        assert status.running + status.waiting >= 1
        assert status.available_processors is not None and status.available_processors >= 0
    finally:
        arc.kill([ref])


def test_bulk_submit_of_many_stamps(arc: ArcComputingElement) -> None:
    stamps = [f"bulk-{i}" for i in range(5)]
    res = arc.submit("#!/bin/sh\nexit 0\n", stamps)
    assert res.all_ok and len(set(res.ok.values())) == 5
    statuses = arc.status(list(res.ok.values()))
    assert statuses.all_ok
    assert arc.kill(list(res.ok.values())).all_ok


def test_unknown_job_id_of_this_ce_is_not_found(arc: ArcComputingElement) -> None:
    ref = arc.reference("NoSuchJob0123456789")
    assert isinstance(arc.status([ref]).failed[ref], NotFound)
    assert isinstance(arc.kill([ref]).failed[ref], NotFound)
    with pytest.raises(NotFound):
        arc.output(ref)


def test_unmapped_identity_is_refused_with_403(arc_server: ArcServer) -> None:
    with ArcComputingElement(arc_server.url, ca=str(arc_server.ca_file),
                             cert_file=str(arc_server.unmapped_cert), key_file=str(arc_server.unmapped_key),
                             ) as driver, pytest.raises(CEError) as info:
        driver.submit("#!/bin/sh\n", ["s"])
    assert info.value.fields["status"] == 403


def test_untrusted_server_is_a_tls_error_not_unreachable(arc_server: ArcServer, tmp_path: Path) -> None:
    other_ca = TestCA(tmp_path, dn_prefix=("org", "elsewhere"))
    with ArcComputingElement(arc_server.url, ca=str(other_ca.files.cert), cert_file=str(arc_server.user_cert),
                             key_file=str(arc_server.user_key)) as driver, pytest.raises(CEError) as info:
        driver.ce_status()
    assert not isinstance(info.value, CEUnreachable)
    assert "TLS" in str(info.value)

"""The same pilot over HTTP: a server on loopback, a pilot token, RemoteServices."""

from __future__ import annotations

from pathlib import Path

import attrs
from pilot_helpers import NODE, SITE

from dirac_core.client import RemoteInterware
from dirac_core.interware import Interware
from dirac_core.model.clock import SystemClock
from dirac_core.model.pilot import PilotStatus
from dirac_core.pilot.runtime import Pilot, PilotSettings
from dirac_core.pilot.services import RemoteServices
from dirac_core.pilot.watchdog import Limits
from dirac_core.pilot.wrapper import WrapperSettings
from dirac_core.wms.pilots import PilotRecord
from dirac_server import create_app
from dirac_server.runner import bind, running, url_of


def test_a_pilot_over_http_runs_jobs_and_their_owner_gets_the_output(tmp_path: Path) -> None:
    sock = bind()
    url = url_of(sock)
    config = Interware.embedded_config(tmp_path / "site")
    config = attrs.evolve(config, auth=attrs.evolve(config.auth, issuer=url))
    with Interware.from_config(config) as iw, running(create_app(iw), sock):
        _, alice = iw.auth.issue("alice", vo="demo")
        iw.pilots.register([PilotRecord(pilot_stamp="http-1", vo="demo", destination_site=SITE)])
        token = iw.auth.tokens.issue_pilot("demo", "http-1")
        with RemoteInterware(url, token=alice.access_token) as user:
            ids = [j.job_id for j in user.wms.submit(
                ['[Executable = "/bin/sh"; Arguments = "-c \'echo hello > h.txt; echo done\'";'
                 ' OutputSandbox = {"h.txt"};]'] * 2)]
        with RemoteInterware(url, token=token) as remote:
            wrapper = WrapperSettings(work_dir=tmp_path / "work", heartbeat_seconds=0.05,
                                      limits=Limits(min_disk_mb=0))
            pilot = Pilot(RemoteServices(remote), PilotSettings(site=SITE, stamp="http-1", wrapper=wrapper,
                                                                min_time_left=0),
                          node=NODE, clock=iw.clock)
            report = pilot.run()
        assert sorted(o.job_id for o in report.outcomes) == ids
        assert {o.status for o in report.outcomes} == {"Done"}
        assert iw.pilots.get(["http-1"])["http-1"]["Status"] == PilotStatus.DONE
        with RemoteInterware(url, token=alice.access_token) as user:
            assert user.wms.get_parameters(ids[0])["StandardOutput"] == "done"
            pfn = user.wms.sandboxes_of(ids[0])["output"][0]
            files = user.wms.download_sandbox(pfn, tmp_path / "got")
            assert [p.name for p in files] == ["h.txt"]
            assert (tmp_path / "got" / "h.txt").read_text() == "hello\n"


def test_a_pilot_that_cannot_reach_its_server_gives_up_cleanly(tmp_path: Path) -> None:
    sock = bind()
    url = url_of(sock)
    sock.close()  # nothing listens there
    delays: list[float] = []
    with RemoteInterware(url, token="x", sleep=lambda _: None) as remote:
        wrapper = WrapperSettings(work_dir=tmp_path / "work")
        settings = PilotSettings(site=SITE, stamp="lost", wrapper=wrapper, min_time_left=0,
                                 server_attempts=3, backoff_seconds=1.5)
        report = Pilot(RemoteServices(remote), settings, node=NODE, clock=SystemClock(),
                       sleep=delays.append).run()
    assert report.outcomes == () and report.stopped_because.startswith("server unreachable")
    assert delays == [1.5, 3.0]


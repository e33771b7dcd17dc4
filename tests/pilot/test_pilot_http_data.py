"""A pilot over HTTP moves its jobs' data itself: input from the SEs of the server's configuration,
outputs registered in the server's catalog as the job's owner, a failover request stored through
the server for the job."""

from __future__ import annotations

from pathlib import Path

import attrs
from pilot_helpers import NODE, SITE

from dirac_core.client import RemoteInterware
from dirac_core.interware import EMBEDDED_CONFIG, Interware
from dirac_core.pilot.data import remote_transfers
from dirac_core.pilot.runtime import Pilot, PilotSettings
from dirac_core.pilot.services import RemoteServices
from dirac_core.pilot.watchdog import Limits
from dirac_core.pilot.wrapper import WrapperSettings
from dirac_core.wms.pilots import PilotRecord
from dirac_server import create_app
from dirac_server.runner import bind, running, url_of

EXTRA = """
[resources.storage_elements.Closed-SE]
name = "Closed-SE"
write_access = "Banned"
[[resources.storage_elements.Closed-SE.protocols]]
type = "file"
path = "{root}/closed"

[operations.defaults]
failover_ses = ["Embedded-SE2"]
"""


def test_a_pilot_over_http_reads_inputs_and_stores_outputs_with_failover(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "dirac.toml").write_text((EMBEDDED_CONFIG + EXTRA).format(root=site.as_posix()))
    sock = bind()
    url = url_of(sock)
    config = Interware.embedded_config(site)
    config = attrs.evolve(config, auth=attrs.evolve(config.auth, issuer=url))
    with Interware.from_config(config) as iw, running(create_app(iw), sock):
        source = tmp_path / "in.dat"
        source.write_text("input\n")
        iw.data_manager(iw.identity("alice")).put_and_register("/demo/user/a/alice/in.dat", source,
                                                               "Embedded-SE")
        _, alice = iw.auth.issue("alice", vo="demo")
        iw.pilots.register([PilotRecord(pilot_stamp="data-1", vo="demo", destination_site=SITE)])
        token = iw.auth.tokens.issue_pilot("demo", "data-1")
        with RemoteInterware(url, token=alice.access_token) as user:
            [good, moved] = [j.job_id for j in user.wms.submit([
                '[Executable = "/bin/sh"; Arguments = "-c \'tr a-z A-Z < in.dat > up.dat\'";'
                ' InputData = {"LFN:/demo/user/a/alice/in.dat"}; OutputData = {"up.dat"};'
                ' OutputSE = {"Embedded-SE"};]',
                '[Executable = "/bin/sh"; Arguments = "-c \'echo x > out.dat\'"; OutputData = {"out.dat"};'
                ' OutputSE = {"Closed-SE"};]'])]
        with RemoteInterware(url, token=token) as remote:
            wrapper = WrapperSettings(work_dir=tmp_path / "work", heartbeat_seconds=0.05,
                                      limits=Limits(min_disk_mb=0))
            pilot = Pilot(RemoteServices(remote), PilotSettings(site=SITE, stamp="data-1", wrapper=wrapper,
                                                                min_time_left=0),
                          node=NODE, clock=iw.clock, data=remote_transfers(remote, "demo"))
            report = pilot.run()
        assert {o.job_id: o.status for o in report.outcomes} == {good: "Done", moved: "Completed"}
        assert iw.catalog is not None
        up, out = f"/demo/user/a/alice/{good}/up.dat", f"/demo/user/a/alice/{moved}/out.dat"
        replicas = iw.catalog.get_replicas([up, out]).ok
        assert replicas == {up: {"Embedded-SE"}, out: {"Embedded-SE2"}}
        back = iw.dm.get_file(up, tmp_path / "back")  # type: ignore[union-attr]
        assert back.read_text() == "INPUT\n"
        assert iw.requests.for_jobs([good, moved]) == {moved: [1]}
        request = iw.requests.get([1]).ok[1]
        assert (request.owner, request.owner_group, request.job_id) == ("alice", "demo_user", moved)
        assert [(op.type, op.target_se) for op in request.operations] == [
            ("ReplicateAndRegister", ("Closed-SE",)), ("RemoveReplica", ("Embedded-SE2",))]

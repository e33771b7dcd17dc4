"""The whole chain on real components, on every database backend.

50 jobs submitted over HTTP -> the site director sends pilots to a real SLURM cluster, through
the local transport and through ssh to a real sshd -> the pilots, real processes on the SLURM
node, talk HTTP to the server -> every job Done, its output sandbox downloadable by its owner,
the log of the pilot that ran it reachable from the job.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import attrs

from dirac_core.client import RemoteInterware
from dirac_core.config import load_config
from dirac_core.db import Database
from dirac_core.interware import EMBEDDED_CONFIG, Interware
from dirac_core.model.clock import SystemClock
from dirac_core.plugins.manager import make_plugin_manager
from dirac_core.testing.slurm import SlurmCluster
from dirac_core.testing.sshd import SshdServer
from dirac_core.wms.director import QueueTarget, SiteDirector
from dirac_core.wms.director_parts import ce_factory, pilot_script
from dirac_server import ServerSettings, create_app
from dirac_server.runner import bind, running, url_of

JOBS = 50
SITE = "DIRAC.Embedded.local"
_LOCAL_CE = '''[[resources.sites.DIRAC."DIRAC.Embedded.local".ces]]
type = "local"
name = "localhost"

[resources.sites.DIRAC."DIRAC.Embedded.local".ces.queues.default]
name = "default"
max_cpu_time = 86400
max_total_jobs = 4
max_waiting_jobs = 2
'''


def _config(root: Path, url: str, slurm: SlurmCluster, sshd: SshdServer) -> str:
    """The embedded grid with two batch CEs on the SLURM cluster: local commands, and ssh."""
    env = f'environment = ["SLURM_CONF={slurm.conf_path}"]'
    ces = ""
    for name, transport in (("slurm-direct", 'transport = "local"'),
                            ("slurm-ssh", f'transport = "ssh"\nhost = "{sshd.host}"\nport = {sshd.port}\n'
                                          f'user = "{sshd.user}"\nssh_key = "{sshd.client_key}"')):
        ces += (f'[[resources.sites.DIRAC."{SITE}".ces]]\ntype = "batch"\nname = "{name}"\n'
                f'batch_system = "slurm"\n{transport}\nshared_dir = "{root / name}"\n'
                f'[resources.sites.DIRAC."{SITE}".ces.options]\n{env}\n'
                + (f'known_hosts = "{sshd.known_hosts}"\n' if "ssh" in name else "")
                + f'[resources.sites.DIRAC."{SITE}".ces.queues.{slurm.partition}]\n'
                f'name = "{slurm.partition}"\nmax_total_jobs = 4\nmax_waiting_jobs = 4\n\n')
    text = EMBEDDED_CONFIG.format(root=root.as_posix())
    assert _LOCAL_CE in text
    text = text.replace(_LOCAL_CE, ces)
    return text.replace(f'url = "sqlite:///{root.as_posix()}/dirac.sqlite"', f'url = "{url}"')


def _until(condition: Callable[[], bool], what: str, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)  # the pilots are SLURM jobs: look again shortly


def test_fifty_jobs_through_real_slurm_directly_and_over_ssh(
        database: Database, slurm_cluster: SlurmCluster, sshd_server: SshdServer, tmp_path: Path) -> None:
    db_url = database.url.render_as_string(hide_password=False)
    config = load_config(_config(tmp_path, db_url, slurm_cluster, sshd_server), format="toml")
    sock = bind()
    url = url_of(sock)
    config = attrs.evolve(config, auth=attrs.evolve(config.auth, issuer=url))
    iw = Interware(config=config, database=database, clock=SystemClock(), hooks=make_plugin_manager(()))
    settings = ServerSettings(sandbox_dir=str(tmp_path / "sandboxes"))
    with running(create_app(iw, settings), sock):
        _, alice = iw.auth.issue("alice", vo="demo")
        user = RemoteInterware(url, token=alice.access_token)
        jdls = [f'[Executable = "/bin/sh"; Arguments = "-c \'echo out $DIRACJOBID on $DIRAC_CE\'";'
                f' GridCE = "{"slurm-direct" if i % 2 else "slurm-ssh"}"; OutputSandbox = {{"std.out"}};]'
                for i in range(JOBS)]
        ids = [j.job_id for j in user.wms.submit(jdls)]

        def script(target: QueueTarget, stamp: str) -> str:
            return pilot_script(target, stamp, server=url, token=iw.auth.tokens.issue_pilot("demo", stamp),
                                extra=["--heartbeat", "1", "--processors", "2"])

        director = SiteDirector(config=config, wms=iw.wms, pilots=iw.pilots, vo="demo", clock=iw.clock,
                                make_ce=ce_factory(tmp_path / "ce-work"), script=script)
        try:
            def finished() -> bool:
                report = director.run_once()
                assert not report.errors, report.errors
                statuses = {r["status"] for r in iw.wms.get_jobs(ids).values()}
                return statuses == {"Done"}

            _until(finished, "every job to be Done")
            _until(lambda: (director.run_once() is not None and not iw.pilots.active("demo")
                            and not iw.pilots.without_output("demo", iw.clock.now().replace(year=2000))),
                   "the pilots to end and their outputs to be kept")
        finally:
            director.close()
        pilots = iw.pilots.search(vo="demo", per_page=1000)[0]
        by_ce = {ce: [p for p in pilots if p["DestinationSite"] == ce]
                 for ce in ("slurm-direct", "slurm-ssh")}
        assert all(by_ce.values()), "both CEs got pilots"
        assert {p["Status"] for p in pilots} == {"Done"}
        for job_id in (ids[0], ids[1]):
            pfn = user.wms.sandboxes_of(job_id)["output"][0]
            user.wms.download_sandbox(pfn, tmp_path / f"out-{job_id}")
            text = (tmp_path / f"out-{job_id}" / "std.out").read_text()
            ce = "slurm-direct" if ids.index(job_id) % 2 else "slurm-ssh"
            assert text == f"out {job_id} on {ce}\n"
            stamp, stdout, _ = user.wms.pilot_output(job_id)
            assert stamp in {p["PilotStamp"] for p in by_ce[ce]}
            assert f"pilot {stamp}: " in stdout and "stopped: no more work" in stdout
        user.close()

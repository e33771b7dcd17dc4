"""``dirac-core pilot``: embedded, and the vacuum mode (a pilot token, nothing submitted it)."""

from __future__ import annotations

from pathlib import Path

import attrs
from typer.testing import CliRunner

from dirac_core.cli import app
from dirac_core.interware import Interware
from dirac_server import create_app
from dirac_server.runner import bind, running, url_of

runner = CliRunner()


def test_an_embedded_pilot_runs_the_waiting_jobs(tmp_path: Path) -> None:
    site = tmp_path / "site"
    with Interware.embedded(site) as iw:
        ids = [j.job_id for j in iw.wms.submit(['[Executable = "/bin/echo"; Arguments = "x";]'] * 2,
                                               iw.identity("alice"))]
    result = runner.invoke(app, ["pilot", "--local", str(site), "--work-dir", str(tmp_path / "w"),
                                 "--heartbeat", "0.1"])
    assert result.exit_code == 0, result.output
    assert "2 job(s), 2 done; stopped: no more work" in result.output
    with Interware.embedded(site) as iw:
        assert {r["status"] for r in iw.wms.get_jobs(ids).values()} == {"Done"}


def test_a_vacuum_pilot_joins_with_a_token_only(tmp_path: Path) -> None:
    sock = bind()
    url = url_of(sock)
    config = Interware.embedded_config(tmp_path / "site")
    config = attrs.evolve(config, auth=attrs.evolve(config.auth, issuer=url))
    with Interware.from_config(config) as iw, running(create_app(iw), sock):
        [job] = iw.wms.submit('[Executable = "/bin/true";]', iw.identity("alice"))
        token = iw.auth.tokens.issue_pilot("demo", "vacuum-node-7")
        result = runner.invoke(app, ["pilot", "--server", url, "--site", "DIRAC.Embedded.local",
                                     "--stamp", "vacuum-node-7", "--work-dir", str(tmp_path / "w"),
                                     "--heartbeat", "0.1"], env={"DIRAC_PILOT_TOKEN": token})
        assert result.exit_code == 0, result.output
        assert iw.wms.get_jobs([job.job_id])[job.job_id]["status"] == "Done"
        assert iw.wms.jobs_of_pilot("vacuum-node-7") == {job.job_id}


def test_the_pilot_command_needs_one_target_and_a_token(tmp_path: Path) -> None:
    result = runner.invoke(app, ["pilot"])
    assert result.exit_code != 0 and "exactly one of --server" in result.output
    result = runner.invoke(app, ["pilot", "--server", "http://127.0.0.1:1"], env={"DIRAC_PILOT_TOKEN": ""})
    assert result.exit_code != 0 and "needs a pilot token" in result.output


def test_a_container_needs_apptainer_or_singularity(tmp_path: Path) -> None:
    result = runner.invoke(app, ["pilot", "--local", str(tmp_path / "site"), "--container", "img.sif"],
                           env={"PATH": str(tmp_path)})  # neither binary on this PATH
    assert result.exit_code != 0 and "needs apptainer or singularity" in result.output

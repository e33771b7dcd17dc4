"""``dirac-core login / whoami / logout`` and ``auth issue-token`` against a live server."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from server_helpers import server_config
from sqlalchemy import select
from typer.testing import CliRunner

from dirac_core.cli import app
from dirac_core.cli import session as session_module
from dirac_core.db import Database
from dirac_core.db.tables.auth import device_flows
from dirac_core.interware import Interware
from dirac_core.model import SystemClock
from dirac_core.plugins.manager import make_plugin_manager
from dirac_server import create_app
from dirac_server.runner import bind, running, url_of

runner = CliRunner()


@pytest.fixture
def served(database: Database) -> Iterator[tuple[str, Interware]]:
    """A live server (system clock: the CLI compares expiry times with the real time)."""
    sock = bind()
    url = url_of(sock)
    iw = Interware(config=server_config(database.url.render_as_string(hide_password=False),
                                        issuer=url),
                   database=database, clock=SystemClock(), hooks=make_plugin_manager(()))
    with running(create_app(iw), sock):
        yield url, iw


def test_login_whoami_logout(served: tuple[str, Interware], tmp_path: Path,
                             monkeypatch: pytest.MonkeyPatch) -> None:
    url, iw = served
    credentials = tmp_path / "creds.json"
    env = {"DIRACX_URL": url, "DIRACX_CREDENTIALS_PATH": str(credentials), "COLUMNS": "200"}
    monkeypatch.setenv("DIRACX_CREDENTIALS_PATH", str(credentials))

    def approve_instead_of_waiting(seconds: float) -> None:
        # the person opening the page: approve the pending flow as alice
        with iw.database.begin(read_only=True) as conn:
            code = conn.execute(select(device_flows.c.user_code)
                                .where(device_flows.c.status == "pending")).scalar_one()
        iw.auth.device.approve(code, "alice", iw.config.registry)

    monkeypatch.setattr(session_module.time, "sleep", approve_instead_of_waiting)
    logged = runner.invoke(app, ["login", "demo"], env=env)
    assert logged.exit_code == 0, logged.output
    assert "Now go to: " in logged.output and "Login successful!" in logged.output
    assert oct(credentials.stat().st_mode & 0o777) == "0o600"

    me = runner.invoke(app, ["whoami", "--json"], env=env)
    assert me.exit_code == 0, me.output
    assert json.loads(me.output)["preferred_username"] == "alice"

    out = runner.invoke(app, ["logout"], env=env)
    assert out.exit_code == 0 and "Logout successful!" in out.output
    assert not credentials.exists()
    again = runner.invoke(app, ["whoami"], env=env)
    assert again.exit_code == 1 and "not logged in" in again.output


def test_login_to_an_unknown_vo_is_refused(served: tuple[str, Interware], tmp_path: Path) -> None:
    url, _ = served
    result = runner.invoke(app, ["login", "nosuchvo"],
                           env={"DIRACX_URL": url, "DIRACX_CREDENTIALS_PATH": str(tmp_path / "c")})
    assert result.exit_code == 1 and "unknown VO" in result.output
    assert not (tmp_path / "c").exists()


def test_job_commands_through_the_server(served: tuple[str, Interware], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    url, iw = served
    credentials = tmp_path / "creds.json"
    monkeypatch.setenv("DIRACX_CREDENTIALS_PATH", str(credentials))
    env = {"DIRACX_URL": url, "DIRACX_CREDENTIALS_PATH": str(credentials), "COLUMNS": "200"}
    issued = runner.invoke(app, ["auth", "issue-token", "--config", str(_config_file(iw, tmp_path)),
                                 "--user", "alice", "--credentials-file", str(credentials)])
    assert issued.exit_code == 0, issued.output
    jdl = tmp_path / "j.jdl"
    jdl.write_text('[Executable = "/bin/echo"; JobName = "remote%n"; Parameters = 2;]')
    submitted = runner.invoke(app, ["job", "submit", str(jdl), "--json"], env=env)
    assert submitted.exit_code == 0, submitted.output
    ids = [row["JobID"] for row in json.loads(submitted.output)]
    found = runner.invoke(app, ["job", "search", "--json", "--parameter", "JobName"], env=env)
    assert found.exit_code == 0 and json.loads(found.output) == [{"JobName": "remote0"},
                                                                 {"JobName": "remote1"}]
    killed = runner.invoke(app, ["job", "kill", str(ids[0]), "--json"], env=env)
    assert killed.exit_code == 0 and json.loads(killed.output)["ok"] == {str(ids[0]): "Killed"}
    missing = runner.invoke(app, ["job", "status", "999999"], env=env)
    assert missing.exit_code == 1 and "not found: 999999" in missing.output


def _config_file(iw: Interware, tmp_path: Path) -> Path:
    from dirac_core.config import dump_config

    path = tmp_path / "site.toml"
    path.write_text(dump_config(iw.config))
    return path

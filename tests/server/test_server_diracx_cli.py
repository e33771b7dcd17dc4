"""DiracX's own CLI (PyPI ``diracx==0.7.0``, in its own virtual environment) against our server.

``dirac login`` (device flow, approved here through the server's login
form), ``dirac jobs submit``, ``dirac jobs search``, ``dirac whoami`` and
``dirac logout``, on loopback, on every backend.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from diracx_cli import DiracxCLI, diracx_venv
from server_helpers import PASSWORD, server_config

from dirac_core.db import Database
from dirac_core.interware import Interware
from dirac_core.model import SystemClock
from dirac_core.plugins.manager import make_plugin_manager
from dirac_server import create_app
from dirac_server.runner import bind, running, url_of


@pytest.fixture(scope="module")
def venv() -> Path:
    """diracx 0.7.0, installed once per machine (about 20 s the first time)."""
    return diracx_venv()


@pytest.fixture
def live(database: Database) -> Iterator[str]:
    """The server on a loopback port, its issuer its own URL; yields the URL."""
    sock = bind()
    url = url_of(sock)
    db_url = database.url.render_as_string(hide_password=False)
    iw = Interware(config=server_config(db_url, issuer=url), database=database,
                   clock=SystemClock(), hooks=make_plugin_manager(()))
    with running(create_app(iw), sock) as served:
        yield served


def _approver(url: str, user: str) -> object:
    def approve(verification_url: str) -> None:
        code = parse_qs(urlsplit(verification_url).query)["user_code"][0]
        answer = httpx.post(f"{url}/api/auth/device/approve",
                            data={"user_code": code, "username": user, "password": PASSWORD})
        assert answer.status_code == 200, answer.text

    return approve


def test_diracx_cli_session(venv: Path, live: str, tmp_path: Path) -> None:
    cli = DiracxCLI(venv, live, tmp_path)
    cli.login("demo", _approver(live, "alice"))  # type: ignore[arg-type]
    stored = cli.credentials()
    assert stored is not None and stored["access_token"] and stored["refresh_token"]

    me = cli.whoami()
    assert me["preferred_username"] == "alice" and me["vo"] == "demo"
    assert me["dirac_group"] == "demo_user" and me["properties"] == ["NormalUser"]

    ids = cli.submit('JobName = "one";\nExecutable = "/bin/echo";\nArguments = "hello";\n',
                     '[Executable = "/bin/echo"; JobName = "two";]')
    assert len(ids) == 2 and ids[1] == ids[0] + 1

    found = cli.search(f"JobID eq {ids[1]}", parameters=("JobID", "JobName", "Status", "Owner"))
    assert found == [{"JobID": ids[1], "JobName": "two", "Status": "Waiting", "Owner": "alice"}]
    second = cli.search(parameters=("JobID",), page=2, per_page=1)  # a 206 with Content-Range
    assert second == [{"JobID": ids[1]}]

    cli.logout()
    assert cli.credentials() is None
    after = cli.run("jobs", "search")
    assert "not authenticated" in after.stdout


def test_diracx_cli_other_user_sees_nothing_of_alice(venv: Path, live: str, tmp_path: Path) -> None:
    alice = DiracxCLI(venv, live, tmp_path / "alice")
    alice.login("demo", _approver(live, "alice"))  # type: ignore[arg-type]
    alice.submit('[Executable = "/bin/echo"; JobName = "mine";]')
    bob = DiracxCLI(venv, live, tmp_path / "bob")
    bob.login("demo", _approver(live, "bob"))  # type: ignore[arg-type]
    assert bob.search(parameters=("JobID", "Owner")) == []
    assert [job["Owner"] for job in alice.search(parameters=("JobID", "Owner"))] == ["alice"]

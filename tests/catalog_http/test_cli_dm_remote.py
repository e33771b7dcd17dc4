"""``dirac-core dm ls|replicas|find|meta set --url``: the catalog commands against a server, as the login."""

from __future__ import annotations

import json
import time
from pathlib import Path

from catalog_http_helpers import LiveCatalog
from typer.testing import CliRunner

from dirac_core.cli import app
from dirac_core.plugins.catalog import FileEntry

runner = CliRunner()
HOME = "/demo/user/alice"


def _login(live: LiveCatalog, tmp_path: Path, user: str) -> dict[str, str]:
    """The environment of a CLI logged in to ``live`` as ``user``."""
    credentials = tmp_path / f"{user}.json"
    credentials.write_text(json.dumps({"access_token": live.token(user), "refresh_token": None,
                                       "expires_on": int(time.time()) + 3600}))
    return {"DIRACX_URL": live.url, "DIRACX_CREDENTIALS_PATH": str(credentials), "COLUMNS": "200"}


def _run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["dm", *args], env=env)
    return result.exit_code, result.output


def test_catalog_commands_work_against_a_server(live: LiveCatalog, tmp_path: Path) -> None:
    live.remote("admin", "demo_catalog").catalog.add_metadata_field("year", "int", for_files=False)
    lfn = f"{HOME}/2018/sunset.jpg"
    live.remote("alice").catalog.add_files([FileEntry(lfn=lfn, size=6)]).raise_for_failures()
    live.remote("alice").catalog.add_replicas({lfn: ["SE-A"]}).raise_for_failures()
    alice = _login(live, tmp_path, "alice")

    code, out = _run(alice, "ls", f"{HOME}/2018", "--json")
    assert code == 0, out
    assert json.loads(out) == {"files": [lfn], "subdirectories": []}
    code, out = _run(alice, "replicas", lfn, "--json")
    assert code == 0 and json.loads(out) == {lfn: ["SE-A"]}, out
    code, out = _run(alice, "meta", "set", f"{HOME}/2018", "year=2018")
    assert code == 0, out
    assert live.iw.catalog is not None
    assert live.iw.catalog.get_metadata([lfn]).ok[lfn] == {"year": 2018}
    code, out = _run(alice, "find", "year=2018", "--json")
    assert code == 0 and json.loads(out) == [lfn], out

    # the login decides who acts: bob may not set metadata in alice's directory
    code, out = _run(_login(live, tmp_path, "bob"), "meta", "set", f"{HOME}/2018", "year=2019")
    assert code == 1 and "permission denied" in out
    code, out = _run(alice, "find", "azimuth=1")
    assert code == 1 and "azimuth" in out
    code, out = _run(alice, "ls", f"{HOME}/none")
    assert code == 1 and "no such directory" in out.lower(), out


def test_url_and_local_are_exclusive(live: LiveCatalog, tmp_path: Path) -> None:
    alice = _login(live, tmp_path, "alice")
    code, out = _run(alice, "ls", HOME, "--local", str(tmp_path / "site"))
    assert code == 2 and "exactly one of --url" in out
    code, out = _run(alice, "ls", HOME, "--user", "bob")
    assert code == 2 and "--user is for --local" in out
    code, out = _run({"COLUMNS": "200"}, "replicas", "/demo/x")
    assert code == 2 and "exactly one of --url" in out

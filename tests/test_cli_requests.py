"""``dirac-core request list|show|cancel|execute``: on an embedded interware, and against a server."""

from __future__ import annotations

import json
import time
from pathlib import Path

import attrs
from typer.testing import CliRunner

from dirac_core.cli import app
from dirac_core.interware import Interware
from dirac_core.rms import Operation, Request, RequestFile
from dirac_server import create_app
from dirac_server.runner import bind, running, url_of

runner = CliRunner()
LFN = "/demo/user/a/alice/out.dat"


def _run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(app, ["request", *args], env={"COLUMNS": "250", **(env or {})})
    return result.exit_code, result.output


def _requests(iw: Interware, source: Path) -> list[int]:
    """alice's replication of a file of hers, alice's removal of nothing, the pilot's request."""
    iw.data_manager(iw.identity("alice")).put_and_register(LFN, source, "Embedded-SE")
    replicate = Operation(type="ReplicateAndRegister", target_se=["Embedded-SE2"],
                          files=[RequestFile(lfn=LFN)])
    own = [Request(name="copy", owner="alice", owner_group="demo_user", vo="demo", operations=[replicate]),
           Request(name="later", owner="alice", owner_group="demo_user", vo="demo", operations=[
               Operation(type="RemoveFile", files=[RequestFile(lfn="/demo/user/a/alice/none")])]),
           Request(name="not-yours", owner="pilot", owner_group="demo_pilot", vo="demo", operations=[
               Operation(type="RemoveFile", files=[RequestFile(lfn="/demo/x")])])]
    stored = iw.requests.submit(own)
    return [stored.ok[i] for i in range(3)]


def test_request_commands_on_an_embedded_interware(tmp_path: Path) -> None:
    site = tmp_path / "site"
    source = tmp_path / "out.dat"
    source.write_text("data\n")
    with Interware.embedded(site) as iw:
        copy, later, theirs = _requests(iw, source)
    local = ["--local", str(site), "--user", "alice"]
    code, out = _run("list", *local, "--json")
    assert code == 0, out
    assert [(r["request_id"], r["status"], r["current"]) for r in json.loads(out)] == [
        (later, "Waiting", "RemoveFile"), (copy, "Waiting", "ReplicateAndRegister")]
    code, out = _run("cancel", str(later), str(theirs), *local)
    assert code == 1 and f"request {later}: canceled" in out and f"request {theirs} not found" in out
    code, out = _run("execute", "--local", str(site), "--json")
    assert code == 0, out
    assert json.loads(out)["finished"] == {str(copy): "Done", str(theirs): "Done"}
    code, out = _run("show", str(copy), *local)
    assert code == 0 and "Done" in out and "ReplicateAndRegister" in out and LFN in out, out
    code, out = _run("list", *local, "--status", "Canceled")
    assert code == 0 and "later" in out and "copy" not in out, out
    code, out = _run("show", str(theirs), *local)
    assert code == 1 and f"request {theirs} not found" in out
    code, out = _run("show", str(theirs), "--local", str(site), "--user", "admin", "--group", "demo_admin",
                     "--json")
    assert code == 0 and json.loads(out)["owner"] == "pilot"  # an administrator sees the VO's
    assert (site / "storage2" / LFN.lstrip("/")).read_text() == "data\n"
    code, out = _run("list")
    assert code == 2 and "exactly one of --url" in out


def test_request_commands_against_a_server(tmp_path: Path) -> None:
    site = tmp_path / "site"
    source = tmp_path / "out.dat"
    source.write_text("data\n")
    sock = bind()
    url = url_of(sock)
    config = Interware.embedded_config(site)
    config = attrs.evolve(config, auth=attrs.evolve(config.auth, issuer=url))
    with Interware.from_config(config) as iw, running(create_app(iw), sock):
        copy, later, theirs = _requests(iw, source)
        _, pair = iw.auth.issue("alice", vo="demo")
        credentials = tmp_path / "alice.json"
        credentials.write_text(json.dumps({"access_token": pair.access_token, "refresh_token": None,
                                           "expires_on": int(time.time()) + 3600}))
        env = {"DIRACX_URL": url, "DIRACX_CREDENTIALS_PATH": str(credentials)}
        code, out = _run("list", "--json", "--status", "Waiting", env=env)
        assert code == 0, out
        assert [r["request_id"] for r in json.loads(out)] == [later, copy]
        code, out = _run("show", str(copy), "--json", env=env)
        assert code == 0 and json.loads(out)["operations"][0]["files"][0]["lfn"] == LFN
        code, out = _run("cancel", str(later), str(theirs), "--json", env=env)
        assert code == 1 and json.loads(out)["ok"] == [later] and str(theirs) in json.loads(out)["failed"]
        code, out = _run("show", str(theirs), env=env)
        assert code == 1 and "not found" in out
        code, out = _run("list", "--user", "bob", env=env)
        assert code == 2 and "--user and --group are for --local" in out

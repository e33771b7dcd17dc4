"""``dirac-core job ...`` on an embedded interware (the remote mode is tested with the client)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from dirac_core.cli import app

runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_job_commands_locally(tmp_path: Path) -> None:
    site = str(tmp_path / "site")
    jdl = tmp_path / "p.jdl"
    jdl.write_text('[Executable = "/bin/echo"; JobName = "x%n"; Parameters = 3;]')
    code, out = _run("job", "submit", str(jdl), "--local", site, "--user", "alice", "--json")
    assert code == 0, out
    ids = [row["JobID"] for row in json.loads(out)]
    assert len(ids) == 3

    code, out = _run("job", "search", "--local", site, "--user", "alice", "--json",
                     "--condition", "JobName eq x1", "--parameter", "JobID")
    assert code == 0 and json.loads(out) == [{"JobID": ids[1]}]

    # another user of the same group sees none of alice's jobs and cannot kill them
    code, out = _run("job", "search", "--local", site, "--user", "admin", "--group", "demo_user",
                     "--json")
    assert code == 0 and json.loads(out) == []
    code, out = _run("job", "kill", str(ids[0]), "--local", site, "--user", "admin",
                     "--group", "demo_user")
    assert code == 1 and f"job {ids[0]} not found" in out

    code, out = _run("job", "kill", str(ids[0]), "--local", site, "--user", "alice", "--json")
    assert code == 0 and json.loads(out)["ok"] == {str(ids[0]): "Killed"}
    code, out = _run("job", "status", str(ids[0]), str(ids[1]), "--local", site, "--user",
                     "alice", "--json")
    assert code == 0
    assert {row["JobID"]: row["Status"] for row in json.loads(out)} == {ids[0]: "Killed",
                                                                       ids[1]: "Waiting"}
    code, out = _run("job", "history", str(ids[0]), "--local", site, "--user", "alice", "--json")
    assert code == 0 and [r["status"] for r in json.loads(out)][-1] == "Killed"
    code, out = _run("job", "status", "999", "--local", site, "--user", "alice")
    assert code == 1 and "not found: 999" in out


def test_job_commands_need_one_target(tmp_path: Path) -> None:
    code, out = _run("job", "search")
    assert code != 0 and "exactly one of --url URL or --local PATH" in out
    code, out = _run("job", "search", "--local", str(tmp_path), "--condition", "Status")
    assert code != 0 and "PARAMETER OPERATOR VALUE" in out


def test_whoami_locally_names_the_identity_the_commands_act_as(tmp_path: Path) -> None:
    site = str(tmp_path / "site")
    code, out = _run("whoami", "--local", site, "--user", "admin", "--group", "demo_admin", "--json")
    assert code == 0, out
    me = json.loads(out)
    assert (me["preferred_username"], me["dirac_group"], me["vo"]) == ("admin", "demo_admin", "demo")
    assert "JobAdministrator" in me["properties"]
    code, out = _run("whoami", "--local", site, "--user", "alice", "--group", "demo_admin")
    assert code == 1 and "not in group 'demo_admin'" in out
    code, out = _run("whoami", "--local", site, "--url", "http://127.0.0.1:1")
    assert code != 0 and "not both" in out

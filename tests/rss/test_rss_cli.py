"""``dirac-core status list|show|set|release|history|evaluate`` on an embedded interware."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from dirac_core.cli import app

runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["status", *args], env={"COLUMNS": "250"})
    return result.exit_code, result.output


def test_the_status_commands(tmp_path: Path) -> None:
    local = str(tmp_path)
    code, out = _run("evaluate", "--local", local, "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["evaluated"] == 11 and report["errors"] == []
    assert {"element": "StorageElement Embedded-SE WriteAccess", "from": None, "to": "Active"} in [
        {k: c[k] for k in ("element", "from", "to")} for c in report["changes"]]
    code, out = _run("set", "Embedded-SE", "Banned", "--reason", "disk replaced",
                     "--status-type", "WriteAccess", "--hours", "2", "--local", local, "--json")
    assert code == 0, out
    [record] = json.loads(out)
    assert (record["status"], record["token_owner"], record["reason"]) == ("Banned", "admin", "disk replaced")
    code, out = _run("set", "Embedded-SE", "Banned", "--reason", "x", "--user", "alice", "--local", local)
    assert code == 1 and "alice@demo_user may not change resource statuses" in out
    code, out = _run("set", "Nowhere", "Banned", "--reason", "x", "--local", local)
    assert code == 1 and "no element 'Nowhere' in the configuration" in out
    code, out = _run("list", "--local", local, "--status", "Banned", "--json")
    assert [(r["name"], r["status_type"]) for r in json.loads(out)] == [("Embedded-SE", "WriteAccess")]
    code, out = _run("list", "--local", local, "--type", "Site")
    assert code == 0 and "DIRAC.Embedded.local" in out and "Embedded-SE" not in out
    code, out = _run("show", "Embedded-SE", "--local", local)
    assert code == 0 and "StorageElement Embedded-SE at DIRAC.Embedded.local" in out
    assert "disk replaced" in out
    code, out = _run("history", "Embedded-SE", "--local", local, "--json")
    assert [(e["status_type"], e["previous"], e["status"], e["owner"]) for e in json.loads(out)][-1] == (
        "WriteAccess", "Active", "Banned", "admin")
    code, out = _run("release", "Embedded-SE", "--local", local)
    assert code == 0 and out.strip() == "released 1 status(es) of Embedded-SE"
    code, out = _run("show", "Embedded-SE", "--local", local, "--json")
    write = [r for r in json.loads(out)["statuses"] if r["status_type"] == "WriteAccess"]
    assert [(r["status"], r["token_owner"]) for r in write] == [("Banned", "rss")]
    code, out = _run("evaluate", "--local", local)
    assert code == 0 and "Embedded-SE WriteAccess: Banned -> Probing" in out

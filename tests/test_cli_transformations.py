"""``dirac-core transformation ...`` and ``dirac-core production ...`` on an embedded interware."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from dirac_core.cli import app
from dirac_core.interware import Interware

runner = CliRunner()
ADMIN = ["--user", "admin", "--group", "demo_admin"]


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "250"})
    return result.exit_code, result.output


def test_a_transformation_from_a_file_runs_its_cycle_and_reports_progress(tmp_path: Path) -> None:
    site = tmp_path / "site"
    with Interware.embedded(site) as iw:
        source = tmp_path / "f"
        source.write_text("x")
        dm = iw.data_manager(iw.identity("admin", "demo_admin"))
        for i in range(3):
            dm.put_and_register(f"/demo/data/f{i}", source, "Embedded-SE")
    definition = tmp_path / "t.toml"
    definition.write_text('name = "copy-to-se2"\ntype = "Replication"\nplugin = "Standard"\ngroup_size = 2\n'
                          'body = ""\n[parameters]\nTargetSE = "Embedded-SE2"\n')
    code, out = _run("transformation", "create", str(definition), "--local", str(site), *ADMIN)
    assert code == 0, out
    assert "transformation 1 'copy-to-se2': New" in out
    code, out = _run("transformation", "add-files", "copy-to-se2", "/demo/data/f0", "/demo/data/f1",
                     "/demo/data/f2", "--local", str(site), *ADMIN)
    assert code == 0 and out.count("Added") == 3, out
    assert _run("transformation", "start", "1", "--local", str(site), *ADMIN)[1].strip() == \
        "transformation 1: Active"
    code, out = _run("transformation", "cycle", "--local", str(site), *ADMIN)
    assert code == 0 and "tasks made 1" in out, out  # one full group of 2; the third file waits
    code, out = _run("transformation", "list", "--local", str(site), "--json", *ADMIN)
    [row] = json.loads(out)
    assert row["files"] == {"Assigned": 2, "Unused": 1} and row["status"] == "Active"
    code, out = _run("transformation", "show", "copy-to-se2", "--files", "--json", "--local", str(site),
                     *ADMIN)
    shown = json.loads(out)
    assert code == 0 and shown["task_list"] == [{"task": 1, "status": "Waiting", "external_id": 1,
                                                 "target_ses": ["Embedded-SE"], "files": 2}]
    assert [(f["lfn"], f["status"], f["task"]) for f in shown["file_list"]] == [
        ("/demo/data/f0", "Assigned", 1), ("/demo/data/f1", "Assigned", 1), ("/demo/data/f2", "Unused", None)]
    code, out = _run("transformation", "show", "1", "--local", str(site), *ADMIN)
    assert code == 0 and "files: Assigned=2, Unused=1" in out and "Embedded-SE" in out, out
    code, out = _run("transformation", "show", "nope", "--local", str(site), *ADMIN)
    assert code == 1 and "does not exist" in out, out


def test_bad_definitions_and_productions_fail_with_the_reason(tmp_path: Path) -> None:
    site = tmp_path / "site"
    Interware.embedded(site).close()
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\ntype = "Teleportation"\n')
    code, out = _run("transformation", "create", str(bad), "--local", str(site), *ADMIN)
    assert code == 1 and "unknown transformation type" in out
    broken = tmp_path / "broken.toml"
    broken.write_text('name = "x\n')
    code, out = _run("transformation", "create", str(broken), "--local", str(site), *ADMIN)
    assert code == 1 and "broken.toml" in out
    production = tmp_path / "p.toml"
    production.write_text('name = "chain"\n[[steps]]\nname = "a"\ntype = "Replication"\nbody = ""\n'
                          'output_query = {step = "a"}\n[steps.parameters]\nTargetSE = "Embedded-SE2"\n'
                          '[[steps]]\nname = "b"\ntype = "Removal"\nbody = ""\nparents = ["a"]\n'
                          'input_query = {step = "z"}\n')
    code, out = _run("production", "create", str(production), "--local", str(site), *ADMIN)
    assert code == 1 and "does not follow 'a'" in out, out
    code, out = _run("production", "list", "--local", str(site), *ADMIN)
    assert code == 0 and "chain" not in out


def test_the_cycle_follows_requests_at_once_and_files_end_processed(tmp_path: Path) -> None:
    site = tmp_path / "site"
    with Interware.embedded(site) as iw:
        source = tmp_path / "f"
        source.write_text("x")
        dm = iw.data_manager(iw.identity("admin", "demo_admin"))
        for i in range(2):
            dm.put_and_register(f"/demo/data/f{i}", source, "Embedded-SE")
    definition = tmp_path / "t.toml"
    definition.write_text('name = "bc"\ntype = "Replication"\nplugin = "Broadcast"\ngroup_size = 2\n'
                          'body = ""\n[parameters]\nTargetSE = "Embedded-SE2"\n')
    assert _run("transformation", "create", str(definition), "--local", str(site), *ADMIN)[0] == 0
    assert _run("transformation", "add-files", "bc", "/demo/data/f0", "/demo/data/f1", "--local", str(site),
                *ADMIN)[0] == 0
    assert _run("transformation", "start", "bc", "--local", str(site), *ADMIN)[0] == 0
    assert _run("transformation", "cycle", "--local", str(site), *ADMIN)[0] == 0  # split and submit
    assert _run("request", "execute", "--local", str(site))[0] == 0              # the copies
    code, out = _run("transformation", "cycle", "--local", str(site), *ADMIN)   # followed at once
    assert code == 0, out
    [row] = json.loads(_run("transformation", "list", "--local", str(site), "--json", *ADMIN)[1])
    assert row["files"] == {"Processed": 2} and row["processed_percent"] == 100.0

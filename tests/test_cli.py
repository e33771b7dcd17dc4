from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dirac_core.cli import app, main

runner = CliRunner()


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("demo", "plugins", "config", "db"):
        assert command in result.output


def test_demo_shows_what_works(tmp_path: Path) -> None:
    result = runner.invoke(app, ["demo", "--path", str(tmp_path)], env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "DIRAC.Embedded.local" in out and "demo_admin" in out
    assert "core_task_leases" in out
    assert "JDL parsed: Arguments 'a; b'" in out
    assert ("a broken JDL -> JDLError: expected ';' after the value of 'CPUTime', "
            "found 'Priority' (line 3, column 17)") in out
    assert "resources.sites.LCG.LCG.CERN.ch.ces[0].queues.long.max_cpu_time: expected int, got 'abc'" in out
    assert "registry.users.bob.mail: unknown key" in out
    assert "LCG.CERN.ch CE ce503.cern.ch type htcondorce, queue condor max CPU 172800 s" in out
    assert "PluginNotFound" in out
    assert "went Submitted -> Running -> Done" in out
    assert "1 ok, 1 failed" in out
    # real pilot processes from the site director ran six real jobs and their logs were kept
    assert "6 jobs run by" in out and "pilot process(es) from the site director" in out
    assert sorted(set(re.findall(r"hello from job \d+, step (\d)", out))) == [str(i) for i in range(6)]
    assert "(kept by the director): pilot " in out and "stopped: no more work" in out
    # job outputs written to one SE, replicated to a second, in the SQL catalog
    assert "job outputs in the SQL catalog, on two file SEs" in out
    assert out.count("Embedded-SE, Embedded-SE2") >= 3 and "(adler32 verified)" in out
    # a small transformation: four tagged files copied to the second SE by two requests
    assert "1 demo-copy-raw │ Processed=4 │ Done=2 │ 100.0%" in out
    assert "2 tasks of 4 files" in out
    assert "first pass Ran, second pass NotDue" in out
    # it ends with the accounting summary of the jobs that ran, and the web portal's address
    assert re.search(r"Accounting: the jobs that ended .* DIRAC\.Embedded\.local │ \d+ │", out)
    assert re.search(r"web portal: served at http://127\.0\.0\.1:\d+/portal/ while the demo ran "
                     r"\(login page: HTTP 200", out)
    assert f"run dirac-core server --local {tmp_path}, then open http://127.0.0.1:8000/portal/" in out
    assert (tmp_path / "dirac.sqlite").exists()


def test_plugins_lists_groups() -> None:
    result = runner.invoke(app, ["plugins"])
    assert result.exit_code == 0
    assert "dirac.catalogs" in result.output and "memory" in result.output


def test_config_check_reports_every_bad_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[registry]\ndefault_grup = "x"\n[registry.users.bob]\nname = "bob"\nmail = 1\n')
    monkeypatch.setattr("sys.argv", ["dirac-core", "config", "check", str(bad)])
    with pytest.raises(SystemExit) as info:
        main()
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert "registry.default_grup" in err and "registry.users.bob.mail" in err


def test_config_check_accepts_the_examples() -> None:
    examples = Path(__file__).parents[1] / "docs" / "examples"
    for name in ("site.toml", "dirac.cfg"):
        result = runner.invoke(app, ["config", "check", str(examples / name)])
        assert result.exit_code == 0, result.output
        assert "valid" in result.output

"""``dirac-core accounting summary|report|plot`` on an embedded interware."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path

from typer.testing import CliRunner

from dirac_core.accounting import DataOperationRecord, JobRecord
from dirac_core.cli import app
from dirac_core.interware import Interware

runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["accounting", *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output


def _site(tmp_path: Path) -> tuple[Path, datetime]:
    site = tmp_path / "site"
    with Interware.embedded(site) as iw:
        now = iw.clock.now()
        iw.accounting.add([
            JobRecord(job_id=1, owner="alice", group="demo_user", vo="demo", site="LCG.A.ch", status="Done",
                      cpu_seconds=7200, end=now - timedelta(hours=2)),
            JobRecord(job_id=2, owner="alice", group="demo_user", vo="demo", site="LCG.B.fr", status="Failed",
                      cpu_seconds=3600, end=now - timedelta(hours=30)),
            JobRecord(job_id=3, owner="bob", group="other_user", vo="other", site="LCG.A.ch", status="Done",
                      end=now - timedelta(hours=1)),
            DataOperationRecord(operation="Replication", vo="demo", source_se="SE-A", target_se="SE-B",
                                bytes=10**9, end=now - timedelta(hours=3)),
        ])
    return site, now


def test_summary_report_and_plot(tmp_path: Path) -> None:
    site, _ = _site(tmp_path)
    code, out = _run("summary", "--local", str(site), "--json", "--since", "2d")
    assert code == 0, out
    found = json.loads(out)
    assert (found["record"], found["group_by"]) == ("job", "site")
    assert [m["name"] for m in found["measures"]] == ["jobs", "cpu", "wall"]
    assert found["rows"] == [["LCG.A.ch", 2, 2.0, 0.0], ["LCG.B.fr", 1, 1.0, 0.0]]
    code, out = _run("summary", "--local", str(site), "--type", "data", "--vo", "demo")
    assert code == 0 and "SE-A -> SE-B" in out and "1e+09" in out, out

    code, out = _run("report", "jobs-by-site", "--local", str(site), "--since", "2d", "--vo", "demo",
                     "--bin", "day", "--json")
    assert code == 0, out
    report = json.loads(out)
    assert (report["bin"], report["keys"], report["totals"]) == ("day", ["LCG.A.ch", "LCG.B.fr"],
                                                                  {"LCG.A.ch": 1, "LCG.B.fr": 1})
    code, out = _run("report", "final-statuses", "--local", str(site), "--filter", "site=LCG.A.ch")
    assert code == 0 and "Final statuses of jobs" in out and "Done" in out and "Failed" not in out, out

    picture = tmp_path / "cpu.svg"
    code, out = _run("plot", "cpu-by-group", "--local", str(site), "--since", "2d", "--out", str(picture))
    assert code == 0 and "CPU by group: 2 series" in out, out
    texts = ET.parse(picture).iter("{http://www.w3.org/2000/svg}text")
    labels = {"".join(t.itertext()).strip() for t in texts}
    assert {"CPU by group", "demo_user", "other_user", "CPU hours"} <= labels
    png = tmp_path / "sites.png"
    code, out = _run("plot", "jobs-by-site", "--local", str(site), "--out", str(png), "--bin", "hour",
                     "--since", "6h")
    assert code == 0 and png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), out


def test_mistakes_are_explained(tmp_path: Path) -> None:
    site, _ = _site(tmp_path)
    for args, message in [
        (("report", "nope", "--local", str(site)), "unknown report kind 'nope'"),
        (("report", "jobs-by-site", "--local", str(site), "--group-by", "colour"), "unknown key 'colour'"),
        (("summary", "--local", str(site), "--since", "yesterday"), "bad time 'yesterday'"),
        (("summary", "--local", str(site), "--filter", "site"), "--filter takes KEY=VALUE"),
        (("plot", "jobs-by-site", "--local", str(site), "--out", str(tmp_path / "x.gif")),
         "must end in .png"),
        (("summary", "--local", str(tmp_path / "none")), "no embedded interware at"),
    ]:
        code, out = _run(*args)
        assert code == 1 and message in " ".join(out.split()), (args, out)
    assert not (tmp_path / "x.gif").exists() and not (tmp_path / "none").exists()


def test_until_a_partial_date_is_the_end_of_its_period(tmp_path: Path) -> None:
    site, now = _site(tmp_path)
    day = (now - timedelta(hours=30)).astimezone(UTC).strftime("%Y-%m-%d")
    code, out = _run("report", "final-statuses", "--local", str(site), "--since", day, "--until", day,
                     "--json")
    assert code == 0, out
    found = json.loads(out)
    assert found["since"] == f"{day}T00:00:00+00:00"
    span = datetime.fromisoformat(found["until"]) - datetime.fromisoformat(found["since"])
    assert span == timedelta(days=1)
    assert found["totals"]["Failed"] == 1

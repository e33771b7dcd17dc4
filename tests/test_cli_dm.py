"""``dirac-core dm ...`` on an embedded interware: SQL catalog and a file SE, for real."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from dirac_core.cli import app
from dirac_core.interware import EMBEDDED_CONFIG

runner = CliRunner()

SECOND_SE = """
[resources.storage_elements.Second-SE]
name = "Second-SE"

[[resources.storage_elements.Second-SE.protocols]]
type = "file"
path = "{root}/second"
"""


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_put_list_replicate_find_get_and_remove(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "dirac.toml").write_text(EMBEDDED_CONFIG.format(root=site.as_posix())
                                     + SECOND_SE.format(root=site.as_posix()))
    source = tmp_path / "sunset.jpg"
    source.write_bytes(b"pixels" * 1000)
    lfn = "/demo/user/a/alice/pics/sunset.jpg"
    local = ["--local", str(site), "--user", "alice"]
    code, out = _run("dm", "put", str(source), lfn, "--se", "Embedded-SE", *local, "--json")
    assert code == 0, out
    assert json.loads(out)["size"] == 6000
    code, out = _run("dm", "ls", "/demo/user/a/alice/pics", *local, "--json")
    assert code == 0 and json.loads(out)["files"] == [lfn]
    code, out = _run("dm", "replicate", lfn, "--se", "Second-SE", *local)
    assert code == 0, out
    code, out = _run("dm", "replicas", lfn, *local, "--json")
    assert json.loads(out) == {lfn: ["Embedded-SE", "Second-SE"]}
    assert (site / "second" / lfn.lstrip("/")).read_bytes() == source.read_bytes()
    code, out = _run("dm", "du", "/demo/user/a/alice", *local, "--json")
    usage = json.loads(out)["/demo/user/a/alice"]
    assert usage["files"] == 1 and usage["size"] == 6000 and set(usage["replicas"]) == {
        "Embedded-SE", "Second-SE"}
    code, out = _run("dm", "get", lfn, "--dest", str(tmp_path / "back"), *local)
    assert code == 0 and (tmp_path / "back" / "sunset.jpg").read_bytes() == source.read_bytes()
    code, out = _run("dm", "rm", lfn, *local)
    assert code == 0 and "removed 1 file(s)" in out
    assert not (site / "second" / lfn.lstrip("/")).exists()


def test_bad_input_is_refused_with_a_clear_error(tmp_path: Path) -> None:
    site = str(tmp_path / "site")
    source = tmp_path / "x"
    source.write_text("x")
    code, out = _run("dm", "put", str(source), "/demo/../etc/passwd", "--se", "Embedded-SE", "--local", site)
    assert code == 1 and "'..'" in out
    code, out = _run("dm", "put", str(source), "/demo/x", "--se", "Nowhere-SE", "--local", site)
    assert code == 1 and "no storage element 'Nowhere-SE'" in out
    code, out = _run("dm", "get", "/demo/never/was", "--local", site)
    assert code == 1 and "/demo/never/was" in out

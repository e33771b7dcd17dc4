"""Transformations and productions through a live server: ``RemoteInterware.transformations`` and
``.productions`` answer as the embedded engines do, and ``dirac-core transformation|production
--url`` prints what ``--local`` prints."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
from server_tfs_helpers import LFNS, MANAGER, STRANGER, USER, register, tfs_config, token
from typer.testing import CliRunner

from dirac_core.cli import app
from dirac_core.client import RemoteInterware
from dirac_core.db import Database
from dirac_core.errors import BulkResult, DiracError, InvalidTransformation, NotFound, PermissionDenied
from dirac_core.interware import Interware
from dirac_core.model import SystemClock
from dirac_core.plugins.manager import make_plugin_manager
from dirac_core.transformation import TransformationSpec
from dirac_core.transformation.productions import ProductionStep
from dirac_server import create_app
from dirac_server.runner import bind, running, url_of

runner = CliRunner()


@pytest.fixture
def live(database: Database) -> Iterator[tuple[Interware, str]]:
    """The transformation grid served on loopback (its issuer its own URL), on the backend under test."""
    sock = bind()
    url = url_of(sock)
    config = tfs_config(database.url.render_as_string(hide_password=False), issuer=url)
    iw = Interware(config=config, database=database, clock=SystemClock(), hooks=make_plugin_manager(()))
    with running(create_app(iw), sock):
        yield iw, url


def _outcome(call: Any) -> Any:
    """What a call returns, or its error's type and parameter."""
    try:
        return call()
    except DiracError as exc:
        return type(exc).__name__, exc.fields.get("parameter")


def _scenario(ts: Any, prods: Any, name: str, author: Any, split: Callable[[int], object]
              ) -> dict[str, Any]:
    """Create, feed, start, split (in the server: ``split``), list, change file statuses, stop; a
    production too: every result, with the ids, names and times that differ between runs left out."""
    spec = TransformationSpec(name=name, type="Replication", group_size=1,
                              parameters={"TargetSE": "SE-B-disk"})
    made = ts.create(spec, author)
    tid = made.transformation_id
    out: dict[str, Any] = {"made": made, "by_name": ts.get(name), "listed": [
        t for t in ts.transformations(statuses=["New"]) if t.transformation_id == tid]}
    out["added"] = ts.add_files(name, [*LFNS, "not/absolute"])
    out["started"] = ts.start(tid)
    out["unused"] = ts.files(tid, statuses=["Unused"])
    split(tid)
    out["files"] = ts.files(tid)
    out["set"] = ts.set_file_status(tid, {LFNS[0]: "Problematic", "/demo/none": "Unused"})
    out["bad_status"] = _outcome(lambda: ts.set_file_status(tid, {LFNS[1]: "Asleep"}))
    out["tasks"], out["stats"] = ts.tasks(tid), ts.stats(tid)
    out["stopped"] = ts.stop(name)
    out["bad_plugin"] = _outcome(lambda: ts.create(attrs.evolve(spec, name=f"{name}-x", plugin="Nope"),
                                                   author))
    out["taken"] = _outcome(lambda: ts.create(spec, author))
    out["missing"] = _outcome(lambda: ts.get(f"{name}-missing"))
    step = ProductionStep(name="copy", type="Replication", group_size=1, parameters={"TargetSE": "SE-B-disk"})
    production = prods.create(f"{name}-chain", [step], author, description="one step")
    out["production"] = production
    out["production_started"] = prods.start(production.production_id, author)
    out["progress"] = prods.progress(f"{name}-chain")
    out["listed_productions"] = [p for p in prods.productions()
                                 if p.production_id == production.production_id]
    return _strip(out, re.compile(rf"\b({tid}|{production.production_id}|{name})\b"))


_VARYING = frozenset({"transformation_id", "production_id", "created", "updated", "inserted", "external_id"})


def _strip(value: Any, varying: re.Pattern[str]) -> Any:
    """``value`` with ids, times and the scenario's name left out (records as dicts)."""
    if attrs.has(type(value)):
        value = attrs.asdict(value, recurse=False)
    if isinstance(value, BulkResult):
        return {"ok": _strip(value.ok, varying),
                "failed": {k: (type(e).__name__, _strip(e.message, varying))
                           for k, e in value.failed.items()}}
    if isinstance(value, dict):
        return {k: "<x>" if k in _VARYING else _strip(v, varying) for k, v in value.items()}
    if isinstance(value, list | tuple):  # Production.transformations holds ids
        return ["<id>" if type(v) is int else _strip(v, varying) for v in value]
    if isinstance(value, str):
        return varying.sub("<x>", value)
    return value


class _Recording(httpx.HTTPTransport):
    """httpx's transport, recording the method, path and query of every request."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(f"{request.method} {request.url.path}?{request.url.query.decode()}")
        return super().handle_request(request)


def test_the_remote_engines_answer_as_the_embedded_ones(live: tuple[Interware, str]) -> None:
    iw, url = live
    register(iw)
    manager = iw.identity("carol", "demo_prod")
    recording = _Recording()
    with RemoteInterware(url, token=token(iw, MANAGER), transport=recording) as remote:
        ts = remote.transformations
        ts.files_per_page = ts.tasks_per_page = ts.batch_size = 2  # several requests each
        embedded = _scenario(iw.transformations, iw.productions, "here", manager, iw.transformations.split)
        over_http = _scenario(ts, remote.productions, "there", None, iw.transformations.split)
    assert over_http == embedded
    files = "/api/transformations/there/files"
    assert [r for r in recording.sent if r.startswith(f"POST {files}")] == [f"POST {files}?"] * 2
    tid = iw.transformations.get("there").transformation_id
    assert [r for r in recording.sent if "/tasks" in r] == [
        f"GET /api/transformations/{tid}/tasks?page={page}&per_page=2" for page in (1, 2)]
    assert embedded["added"]["ok"] == dict.fromkeys(LFNS, "Added")
    assert embedded["bad_plugin"] == ["InvalidTransformation", "plugin"]
    assert embedded["bad_status"] == ["InvalidTransformation", "statuses"]
    assert embedded["taken"] == ["AlreadyExists", None] and embedded["missing"] == ["NotFound", None]
    assert [(f["lfn"], f["status"]) for f in embedded["unused"]] == [(lfn, "Unused") for lfn in LFNS]
    assert [(f["lfn"], f["status"], f["task_id"]) for f in embedded["files"]] == [
        (lfn, "Assigned", task) for task, lfn in enumerate(LFNS, 1)]
    assert [(t["task_id"], t["lfns"]) for t in embedded["tasks"]] == [(1, [LFNS[0]]), (2, [LFNS[1]]),
                                                                      (3, [LFNS[2]])]
    assert embedded["stats"]["files"] == {"Assigned": 2, "Problematic": 1}
    assert embedded["set"]["ok"] == {LFNS[0]: "Problematic"}
    assert embedded["set"]["failed"] == {
        "/demo/none": ("NotFound", "/demo/none is not a file of transformation <x>")}
    assert embedded["production_started"]["transformations"] == ["<id>"]
    assert embedded["progress"]["files"] == {} and embedded["stopped"]["status"] == "Stopped"


def test_the_remote_engines_apply_the_servers_rules(live: tuple[Interware, str]) -> None:
    iw, url = live
    made = iw.transformations.create(TransformationSpec(name="theirs", type="Removal", body="x;RemoveFile"),
                                     iw.identity("carol", "demo_prod"))
    with (RemoteInterware(url, token=token(iw, USER)) as user,
          RemoteInterware(url, token=token(iw, STRANGER)) as stranger):
        assert user.transformations.get("theirs") == made
        with pytest.raises(PermissionDenied, match="needs ProductionManagement or ServiceAdministrator"):
            user.transformations.start(made.transformation_id)
        with pytest.raises(NotFound, match="transformation 'theirs' does not exist") as lost:
            stranger.transformations.stats("theirs")
        assert lost.value.fields["status"] == 404
        assert stranger.transformations.transformations() == []
        with pytest.raises(InvalidTransformation, match="unknown file status") as bad:
            user.transformations.set_file_status("theirs", {"/demo/x": "Asleep"})
        assert "status" not in bad.value.fields  # refused before any request


# -- the command line ------------------------------------------------------------------------------

TOML = ('name = "copy-to-se2"\ntype = "Replication"\nplugin = "Standard"\ngroup_size = 2\nbody = ""\n'
        '[parameters]\nTargetSE = "Embedded-SE2"\n')
CHAIN = ('name = "chain"\ndescription = "one copy"\n[[steps]]\nname = "copy"\ntype = "Replication"\n'
         'group_size = 1\n[steps.parameters]\nTargetSE = "Embedded-SE2"\n')
BAD = 'name = "x"\ntype = "Teleportation"\n'
FILES = [f"/demo/data/f{i}" for i in range(3)]


def _put(iw: Interware, source: Path) -> None:
    dm = iw.data_manager(iw.identity("admin", "demo_admin"))
    for lfn in FILES:
        dm.put_and_register(lfn, source, "Embedded-SE")


_BORDER = re.compile("[\u2500-\u257f\\s]*")  # box drawing only: a table's border, or an empty line


def _cells(output: str) -> list[Any]:
    """A command's output with the ids left out: table rows as lists of stripped cells (an id is a
    cell of digits only; column widths follow the ids), other lines as they are."""
    rows: list[Any] = []
    for line in output.splitlines():
        if "│" in line or "┃" in line:
            rows.append(["<id>" if c.strip().isdigit() else c.strip() for c in re.split("[│┃]", line)[1:-1]])
        elif not _BORDER.fullmatch(line):
            rows.append(re.sub(r"\b(transformation|production) \d+", r"\1 <id>", line.strip()))
    return rows


def _session(tmp: Path, mode: str, iw: Interware | None, url: str | None) -> dict[str, Any]:
    """The same commands on ``--local`` or ``--url``: exit codes and outputs, ids as roles."""
    (tmp / "copy.toml").write_text(TOML)
    (tmp / "chain.toml").write_text(CHAIN)
    (tmp / "bad.toml").write_text(BAD)
    args: list[str] = []
    env = {"COLUMNS": "250"}
    if mode == "local":
        args = ["--local", str(tmp / "site"), "--user", "admin", "--group", "demo_admin"]
    else:
        assert iw is not None and url is not None
        _, pair = iw.auth.issue("admin", vo="demo", group="demo_admin")
        credentials = tmp / "admin.json"
        credentials.write_text(json.dumps({"access_token": pair.access_token, "refresh_token": None,
                                           "expires_on": int(time.time()) + 3600}))
        env |= {"DIRACX_URL": url, "DIRACX_CREDENTIALS_PATH": str(credentials)}

    def run(*command: str) -> tuple[int, str]:
        result = runner.invoke(app, [*command, *args], env=env)
        return result.exit_code, result.output

    out: dict[str, Any] = {"create": run("transformation", "create", str(tmp / "copy.toml"))}
    tid = out["create"][1].split()[1]
    out["add"] = run("transformation", "add-files", "copy-to-se2", *FILES, "relative")
    out["start"] = run("transformation", "start", tid)
    if mode == "local":
        assert run("transformation", "cycle")[0] == 0
    else:  # what the cycle command runs, in the server
        assert iw is not None
        ts = iw.transformations
        ts.scan_input_queries()
        ts.split()
        ts.submit_tasks()
        ts.monitor_tasks(delay=timedelta(0))
    out["list"] = run("transformation", "list")
    out["json"] = run("transformation", "list", "--json")
    out["stop"] = run("transformation", "stop", "copy-to-se2")
    out["missing"] = run("transformation", "flush", "nope")
    out["bad"] = run("transformation", "create", str(tmp / "bad.toml"))
    out["production"] = run("production", "create", str(tmp / "chain.toml"))
    out["productions"] = run("production", "list")
    out["started"] = run("production", "start", "chain")
    out["show"] = run("production", "show", "chain")
    out["show_json"] = run("production", "show", "chain", "--json")
    out["clean"] = run("production", "clean", "chain")
    for key in ("json", "show_json"):
        text = re.sub(r'("id"|"transformation"): \d+', r'\1: "<id>"', out[key][1])
        out[key] = (out[key][0], json.loads(text))
    return {key: value if key.endswith("json") else (value[0], _cells(value[1]))
            for key, value in out.items()}


def test_the_cli_prints_the_same_on_a_server_as_on_an_embedded_interware(database: Database,
                                                                         tmp_path: Path) -> None:
    source = tmp_path / "f"
    source.write_text("x")
    (tmp_path / "local").mkdir()
    with Interware.embedded(tmp_path / "local" / "site") as iw:
        _put(iw, source)
    local = _session(tmp_path / "local", "local", None, None)

    sock = bind()
    url = url_of(sock)
    config = Interware.embedded_config(tmp_path / "server")
    config = attrs.evolve(config, auth=attrs.evolve(config.auth, issuer=url), database=attrs.evolve(
        config.database, url=database.url.render_as_string(hide_password=False)))
    server = Interware(config=config, database=database, clock=SystemClock(), hooks=make_plugin_manager(()))
    (tmp_path / "remote").mkdir()
    with running(create_app(server), sock):
        _put(server, source)
        remote = _session(tmp_path / "remote", "remote", server, url)
        wrong = runner.invoke(app, ["transformation", "list", "--url", url, "--user", "admin"])
        neither = runner.invoke(app, ["production", "list"], env={"DIRACX_URL": None})
        no_cycle = runner.invoke(app, ["transformation", "cycle", "--url", url])
    server.close()

    assert remote == local
    assert local["create"] == (0, ["transformation <id> 'copy-to-se2': New"])
    assert local["add"][0] == 1 and local["add"][1][:3] == [f"{lfn}: Added" for lfn in FILES]
    assert "relative: LFN 'relative' is not absolute" in local["add"][1][3]
    assert local["json"][1] == [{"id": "<id>", "name": "copy-to-se2", "type": "Replication",
                                 "status": "Active", "files": {"Assigned": 2, "Unused": 1},
                                 "processed_percent": 0.0}]
    assert local["list"][1][1:] == [["<id>", "copy-to-se2", "Replication", "Active", "Standard",
                                     "Assigned=2, Unused=1", "Waiting=1", "0.0%"]]
    assert local["missing"] == (1, ["error: transformation 'nope' does not exist"])
    assert local["bad"][0] == 1 and "unknown transformation type 'Teleportation'" in local["bad"][1][0]
    assert local["started"] == (0, ["production <id>: Active"])
    assert local["show_json"][1]["steps"] == [{"step": "copy", "transformation": "<id>", "status": "Active"}]
    assert local["clean"] == (0, ["production <id>: Cleaned"])
    assert wrong.exit_code == 2 and "--user and --group are for --local" in wrong.output
    assert neither.exit_code == 2 and "exactly one of --url URL or --local PATH" in neither.output
    assert no_cycle.exit_code == 2 and "No such option" in no_cycle.output

"""Resource statuses through a live server: ``RemoteInterware.status`` answers as the embedded
``iw.status`` does, and ``dirac-core status ... --url`` prints what ``--local`` prints."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import pytest
from typer.testing import CliRunner

from dirac_core.cli import app
from dirac_core.client import RemoteInterware
from dirac_core.client.status import BadStatusRequest
from dirac_core.db import Database
from dirac_core.errors import NotFound, PermissionDenied
from dirac_core.interware import Interware
from dirac_core.model import SystemClock
from dirac_core.model.resource_status import ElementKey
from dirac_core.plugins.manager import make_plugin_manager
from dirac_server import create_app
from dirac_server.runner import bind, running, url_of

runner = CliRunner()
QUEUE = "localhost/default"


@pytest.fixture
def live(database: Database, tmp_path: Path) -> Iterator[tuple[Interware, str]]:
    """The embedded configuration served on loopback (its issuer its own URL), on the backend under
    test."""
    sock = bind()
    url = url_of(sock)
    config = Interware.embedded_config(tmp_path / "server")
    config = attrs.evolve(config, auth=attrs.evolve(config.auth, issuer=url), database=attrs.evolve(
        config.database, url=database.url.render_as_string(hide_password=False)))
    iw = Interware(config=config, database=database, clock=SystemClock(), hooks=make_plugin_manager(()))
    with running(create_app(iw), sock):
        yield iw, url
    iw.close()


def _token(iw: Interware, user: str, group: str | None = None) -> str:
    return iw.auth.issue(user, vo="demo", group=group)[1].access_token


def _raised(call: Callable[[], object]) -> tuple[type[Exception], str]:
    """The exception a call raises: its class and message."""
    try:
        call()
    except Exception as exc:  # what is compared is the exception itself
        return type(exc), str(exc)
    raise AssertionError("no exception")


def set_status_for(name: str, system: Any, **kwargs: Any) -> object:
    """``system.set_status`` of a ban by admin."""
    return system.set_status(name, "Banned", reason="x", owner="admin", **kwargs)


def test_the_remote_status_answers_as_the_embedded_one(live: tuple[Interware, str]) -> None:
    iw, url = live
    with (RemoteInterware(url, token=_token(iw, "admin", "demo_admin")) as admin,
          RemoteInterware(url, token=_token(iw, "alice")) as alice):
        made = admin.status.set_status("Embedded-SE", "Banned", reason="disk replaced", owner="ignored",
                                       status_type="WriteAccess", until=timedelta(hours=2))
        assert made == iw.status.statuses(name="Embedded-SE")
        assert [(r.key.status_type, r.token_owner) for r in made] == [("WriteAccess", "admin")]
        later = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
        [queue] = admin.status.set_status(QUEUE, "Probing", reason="draining", until=later)
        assert queue.token_expiration == later and queue.key.name == QUEUE
        admin.status.set_status("DIRAC.Embedded.local", "Degraded", reason="demo only", vo="demo")

        status = alice.status
        assert status.statuses() == iw.status.statuses() and len(status.statuses()) == 3
        assert status.statuses(element_type="Queue") == iw.status.statuses(element_type="Queue") == [queue]
        assert status.statuses(name="Embedded-SE2") == []
        assert status.history() == iw.status.history()
        assert status.history(QUEUE, limit=1) == iw.status.history(QUEUE, limit=1)
        assert status.history(element_type="Site") == iw.status.history(element_type="Site")
        cases = [("Embedded-SE", "WriteAccess", "all"), ("Embedded-SE", "ReadAccess", "all"),
                 (QUEUE, "all", "all"), ("DIRAC.Embedded.local", "all", "demo"),
                 ("DIRAC.Embedded.local", "all", "all"), ("localhost", "all", "other")]
        for name, status_type, vo in cases:
            assert status.status_of(name, status_type, vo=vo) == iw.status.status_of(name, status_type, vo=vo)
        assert str(status.status_of("DIRAC.Embedded.local", vo="demo")) == "Degraded"
        assert status.elements.get(QUEUE) == iw.status.elements.get(QUEUE)
        assert status.elements.get("Embedded-SE", "StorageElement") == iw.status.elements.get("Embedded-SE")

        # the engine's errors (the remote one may be a subclass), with the engine's messages
        past = datetime(2020, 1, 1, tzinfo=UTC)
        se = "Embedded-SE"
        calls: list[Callable[[Any], object]] = [
            lambda s: s.elements.get("Nowhere"), lambda s: s.status_of("Nowhere"),
            lambda s: s.history("Nowhere"), lambda s: s.release("Nowhere"),
            lambda s: s.set_status(se, "Banned", reason="x", owner="admin", status_type="all"),
            lambda s: s.set_status(se, "Banned", reason="x", owner="admin", until=past),
            lambda s: s.set_status(se, "Asleep", reason="x", owner="admin")]
        for call in calls:
            here, there = _raised(partial(call, iw.status)), _raised(partial(call, admin.status))
            assert issubclass(there[0], here[0]) and there[1] == here[1], (here, there)
        # a negative duration: the server refuses it before the engine would, a ValueError too
        negative = partial(set_status_for, se, until=timedelta(hours=-1))
        assert issubclass(_raised(partial(negative, iw.status))[0], ValueError)
        bad = _raised(lambda: admin.status.set_status("Embedded-SE", "Banned", reason="x", status_type="all"))
        assert bad[0] is BadStatusRequest
        with pytest.raises(BadStatusRequest) as refused:
            negative(admin.status)
        assert refused.value.fields == {"parameter": "seconds", "status": 422, "field": "body.seconds"}
        with pytest.raises(NotFound) as missing:
            status.elements.get("Nowhere")
        assert missing.value.fields["status"] == 404

        with pytest.raises(PermissionDenied, match="alice@demo_user may not change resource statuses"):
            status.set_status("Embedded-SE", "Banned", reason="x")
        with pytest.raises(PermissionDenied):
            status.release("Embedded-SE")
        assert iw.status.statuses(name="Embedded-SE") == made

        key = ElementKey(element_type="StorageElement", name="Embedded-SE", status_type="WriteAccess")
        assert admin.status.release("Embedded-SE", by="ignored") == [key]
        assert iw.status.history("Embedded-SE")[-1].reason == "status of admin released by admin"
        assert admin.status.release("Embedded-SE") == []


# -- the command line ------------------------------------------------------------------------------

_TIME = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)?")
_TIMES = frozenset({"date_effective", "last_check", "token_expiration", "changed"})


def _masked(value: Any) -> Any:
    """JSON with its times (set on two clocks) as ``<t>``."""
    if isinstance(value, dict):
        return {k: ("<t>" if k in _TIMES and v is not None else _masked(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(v) for v in value]
    return value


def _credentials(tmp: Path, token: str) -> Path:
    path = tmp / f"credentials-{abs(hash(token))}.json"
    path.write_text(json.dumps({"access_token": token, "refresh_token": None,
                                "expires_on": int(time.time()) + 3600}))
    return path


def _session(run: Callable[..., tuple[int, str]]) -> dict[str, Any]:
    """The same commands on ``--local`` or ``--url``: exit codes and outputs, times masked."""
    out = {
        "empty": run("list"),
        "set": run("set", "Embedded-SE", "Banned", "--reason", "disk replaced",
                   "--status-type", "WriteAccess", "--hours", "2", "--json"),
        "set_queue": run("set", QUEUE, "Probing", "--reason", "draining"),
        "list": run("list"),
        "list_json": run("list", "--json"),
        "banned": run("list", "--status", "Banned", "--json"),
        "queues": run("list", "--type", "Queue"),
        "show": run("show", "Embedded-SE"),
        "show_json": run("show", QUEUE, "--json"),
        "history": run("history"),
        "history_json": run("history", "Embedded-SE", "--json", "--limit", "5"),
        "release": run("release", "Embedded-SE"),
        "again": run("release", "Embedded-SE"),
        "missing": run("show", "Nowhere"),
        "bad_type": run("set", "Embedded-SE", "Banned", "--reason", "x", "--status-type", "all"),
        "bad_hours": run("set", "Embedded-SE", "Banned", "--reason", "x", "--hours", "0"),
    }
    return {key: (code, _masked(json.loads(text)) if key.endswith("json") or key in ("set", "banned")
                  else _TIME.sub("<t>", text))
            for key, (code, text) in out.items()}


def _runner(args: list[str], env: dict[str, str | None]) -> Callable[..., tuple[int, str]]:
    def run(*command: str) -> tuple[int, str]:
        result = runner.invoke(app, ["status", *command, *args], env={"COLUMNS": "250", **env})
        return result.exit_code, result.output
    return run


def test_the_cli_prints_the_same_on_a_server_as_on_an_embedded_interware(live: tuple[Interware, str],
                                                                         tmp_path: Path) -> None:
    iw, url = live
    site = str(tmp_path / "local")
    Interware.embedded(site).close()
    local = _session(_runner(["--local", site], {"DIRACX_URL": None}))
    admin = _credentials(tmp_path, _token(iw, "admin", "demo_admin"))
    remote = _session(_runner([], {"DIRACX_URL": url, "DIRACX_CREDENTIALS_PATH": str(admin)}))
    assert remote == local

    alice = _credentials(tmp_path, _token(iw, "alice"))
    refused_here = _runner(["--local", site, "--user", "alice"], {"DIRACX_URL": None})(
        "set", "Embedded-SE", "Banned", "--reason", "x")
    refused_there = _runner(["--url", url], {"DIRACX_CREDENTIALS_PATH": str(alice)})(
        "set", "Embedded-SE", "Banned", "--reason", "x")
    assert refused_there == refused_here
    assert refused_here[0] == 1 and "alice@demo_user may not change resource statuses" in refused_here[1]

    assert local["empty"][0] == 0 and "Embedded-SE" not in local["empty"][1]
    [record] = local["set"][1]
    assert (record["status_type"], record["status"], record["token_owner"], record["reason"]) == (
        "WriteAccess", "Banned", "admin", "disk replaced")
    assert [(r["name"], r["status"]) for r in local["list_json"][1]] == [
        ("localhost/default", "Probing"), ("Embedded-SE", "Banned")]
    assert "localhost/default" in local["queues"][1] and "Embedded-SE" not in local["queues"][1]
    assert "StorageElement Embedded-SE at DIRAC.Embedded.local" in local["show"][1]
    assert local["show_json"][1]["statuses"][0]["token_owner"] == "admin"
    assert [(e["previous"], e["status"], e["owner"]) for e in local["history_json"][1]] == [
        (None, "Banned", "admin")]
    assert local["release"] == (0, "released 1 status(es) of Embedded-SE\n")
    assert local["again"] == (0, "released 0 status(es) of Embedded-SE\n")
    assert local["missing"] == (1, "error: no element 'Nowhere' in the configuration\n")
    assert local["bad_type"][0] == 1 and "a StorageElement has no status type 'all'" in local["bad_type"][1]
    assert local["bad_hours"][0] == 2 and "--hours must be above 0" in local["bad_hours"][1]

    no_evaluate = runner.invoke(app, ["status", "evaluate", "--url", url])
    wrong = runner.invoke(app, ["status", "release", "Embedded-SE", "--url", url, "--user", "admin"],
                          env={"COLUMNS": "250"})
    neither = runner.invoke(app, ["status", "history"], env={"DIRACX_URL": None, "COLUMNS": "250"})
    assert no_evaluate.exit_code == 2 and "No such option" in no_evaluate.output
    assert wrong.exit_code == 2 and "--user and --group are for --local" in wrong.output
    assert neither.exit_code == 2 and "exactly one of --url URL or --local PATH" in neither.output

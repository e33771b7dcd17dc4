"""The sandbox routes: upload and download through signed URLs, jobs' sandboxes, the client and CLI."""

from __future__ import annotations

import hashlib
import io
import json
import random
import tarfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from server_helpers import server_config
from typer.testing import CliRunner

from dirac_core.cli import app as cli_app
from dirac_core.cli.session import write_credentials
from dirac_core.client import RemoteInterware
from dirac_core.db import Database
from dirac_core.interware import Interware
from dirac_core.model import FakeClock, SystemClock
from dirac_core.plugins.manager import make_plugin_manager
from dirac_core.wms.sandboxes import SandboxStore
from dirac_server import ServerSettings, create_app
from dirac_server.runner import bind, running, url_of

LIMIT = 256 * 1024
Headers = dict[str, str]


def _archive(content: bytes = b"hello", name: str = "out.txt") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:bz2") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _info(data: bytes, **extra: Any) -> dict[str, Any]:
    return {"checksum_algorithm": "sha256", "checksum": hashlib.sha256(data).hexdigest(),
            "size": len(data), "format": "tar.bz2", **extra}


@pytest.fixture
def sb(iw: Interware, tmp_path: Path) -> Iterator[TestClient]:
    """The app with its store in tmp_path, a 64 KiB body limit and a 256 KiB sandbox limit."""
    settings = ServerSettings(max_body_bytes=64 * 1024, sandbox_dir=str(tmp_path / "store"),
                              sandbox_max_bytes=LIMIT)
    with TestClient(create_app(iw, settings)) as test_client:
        yield test_client


def _upload(client: TestClient, headers: Headers, data: bytes) -> str:
    """Register and upload ``data``; its PFN."""
    answer = client.post("/api/jobs/sandbox", json=_info(data), headers=headers)
    assert answer.status_code == 200, answer.text
    found = answer.json()
    if found["url"]:
        sent = client.post(found["url"], data=found["fields"], files={"file": ("file", data)})
        assert sent.status_code == 204, sent.text
    return str(found["pfn"])


def _fetch(client: TestClient, headers: Headers, pfn: str) -> bytes:
    answer = client.get("/api/jobs/sandbox", params={"pfn": pfn}, headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["expires_in"] == 300
    got = client.get(answer.json()["url"])
    assert got.status_code == 200
    return got.content


def test_upload_then_download(sb: TestClient, auth: Any, tmp_path: Path) -> None:
    data = _archive(random.Random(1).randbytes(100_000))  # over the 64 KiB body limit, under LIMIT
    assert len(data) > 64 * 1024
    first = sb.post("/api/jobs/sandbox", json=_info(data), headers=auth("alice")).json()
    assert first["pfn"] == f"SB:SandboxSE|/demo/demo_user/alice/sha256:{_info(data)['checksum']}.tar.bz2"
    assert first["url"].endswith("/api/jobs/sandbox/upload") and set(first["fields"]) == {"token"}
    sent = sb.post(first["url"], data=first["fields"], files={"file": ("file", data)})
    assert sent.status_code == 204, sent.text
    again = sb.post("/api/jobs/sandbox", json=_info(data), headers=auth("alice")).json()
    assert again == {"pfn": first["pfn"], "url": None, "fields": {}}
    assert _fetch(sb, auth("alice"), first["pfn"]) == data
    assert (tmp_path / "store" / "demo" / f"sha256:{_info(data)['checksum']}.tar.bz2").read_bytes() == data


def test_mismatch_oversize_and_bad_requests(sb: TestClient, auth: Any, tmp_path: Path) -> None:
    data = _archive()
    found = sb.post("/api/jobs/sandbox", json=_info(data), headers=auth("alice")).json()
    sent = sb.post(found["url"], data=found["fields"], files={"file": ("file", data + b"x")})
    assert sent.status_code == 400 and "does not match" in sent.json()["detail"]
    assert list((tmp_path / "store").iterdir()) == []  # nothing kept, no staged upload left
    assert sb.get("/api/jobs/sandbox", params={"pfn": found["pfn"]}, headers=auth("alice")).status_code == 404
    over = sb.post("/api/jobs/sandbox", json=_info(data, size=LIMIT + 1), headers=auth("alice"))
    assert over.status_code == 400 and "over the limit" in over.json()["detail"]
    huge = sb.post(found["url"], data=found["fields"], files={"file": ("file", b"x" * (LIMIT + 70_000))})
    assert huge.status_code == 413
    for bad in ({"format": "zip"}, {"checksum": "abc"}, {"checksum_algorithm": "md5"}, {"size": 0}):
        assert sb.post("/api/jobs/sandbox", json=_info(data, **bad), headers=auth("alice")).status_code == 422
    assert sb.post("/api/jobs/sandbox", json=_info(data)).status_code == 401


def test_signed_urls_expire_and_are_not_bearer_tokens(sb: TestClient, auth: Any,
                                                      fake_clock: FakeClock) -> None:
    data = _archive()
    found = sb.post("/api/jobs/sandbox", json=_info(data), headers=auth("alice")).json()
    upload_token = found["fields"]["token"]
    assert sb.get("/api/jobs/999/jdl", headers={"Authorization": f"Bearer {upload_token}"}).status_code == 401
    access = auth("alice")["Authorization"].split()[1]
    assert sb.post(found["url"], data={"token": access}, files={"file": ("file", data)}).status_code == 401
    fake_clock.advance(timedelta(seconds=400))
    assert sb.post(found["url"], data=found["fields"], files={"file": ("file", data)}).status_code == 401
    pfn = _upload(sb, auth("alice"), data)
    url = sb.get("/api/jobs/sandbox", params={"pfn": pfn}, headers=auth("alice")).json()["url"]
    download_token = url.split("token=")[1]
    assert sb.post(found["url"], data={"token": download_token},
                   files={"file": ("file", data)}).status_code == 401
    fake_clock.advance(timedelta(seconds=400))
    assert sb.get(url).status_code == 401


def test_access_and_path_traversal(sb: TestClient, auth: Any) -> None:
    pfn = _upload(sb, auth("alice"), _archive())
    assert sb.get("/api/jobs/sandbox", params={"pfn": pfn}, headers=auth("bob")).status_code == 404
    assert _fetch(sb, auth("admin", "demo_admin"), pfn) == _archive()  # JobAdministrator
    for bad in (pfn.replace("/demo/", "/../"), pfn + "/../../x", "/etc/passwd", "SB:SandboxSE|/demo/x"):
        answer = sb.get("/api/jobs/sandbox", params={"pfn": bad}, headers=auth("alice"))
        assert answer.status_code == 400 and "invalid sandbox PFN" in answer.json()["detail"]
    assert sb.get("/api/jobs/sandbox/download", params={"token": "a.b.c"}).status_code == 401


def _submit(client: TestClient, headers: Headers, jdl: str) -> int:
    answer = client.post("/api/jobs/jdl", json=[jdl], headers=headers)
    assert answer.status_code == 201, answer.text
    return int(answer.json()[0]["JobID"])


def test_jobs_sandboxes(sb: TestClient, auth: Any) -> None:
    alice, bob, pilot = auth("alice"), auth("bob"), auth("pilot", "demo_pilot")
    given = _upload(sb, alice, _archive(b"input"))
    missing = given.replace(given[-20:-8], "0" * 12)
    refused = sb.post("/api/jobs/jdl", json=[f'[Executable = "x"; InputSandbox = {{"{missing}"}};]'],
                      headers=alice)
    assert refused.status_code == 400 and "no such uploaded sandbox" in refused.json()["detail"]
    assert sb.post("/api/jobs/search", json={}, headers=alice).json() == []
    job = _submit(sb, alice, f'[Executable = "x"; InputSandbox = {{"{given}", "local.sh"}};]')
    assert sb.get(f"/api/jobs/{job}/sandbox", headers=alice).json() == {"input": [given], "output": []}
    assert sb.get(f"/api/jobs/{job}/sandbox/input", headers=alice).json() == [given]
    assert sb.get(f"/api/jobs/{job}/sandbox", headers=bob).status_code == 404

    # the pilot fetches the input, uploads and assigns the output; alice downloads it, bob may not
    assert _fetch(sb, pilot, given) == _archive(b"input")
    result = _upload(sb, pilot, _archive(b"result"))
    assert result.startswith("SB:SandboxSE|/demo/demo_pilot/pilot/")
    assert sb.patch(f"/api/jobs/{job}/sandbox/output", json=given, headers=pilot).status_code == 404
    assert sb.patch(f"/api/jobs/{job}/sandbox/output", json=result, headers=bob).status_code == 404
    assigned = sb.patch(f"/api/jobs/{job}/sandbox/output", json=result, headers=pilot)
    assert assigned.status_code == 200, assigned.text
    assert sb.get(f"/api/jobs/{job}/sandbox/output", headers=alice).json() == [result]
    assert _fetch(sb, alice, result) == _archive(b"result")
    assert sb.get("/api/jobs/sandbox", params={"pfn": result}, headers=bob).status_code == 404

    assert sb.delete(f"/api/jobs/{job}/sandbox", headers=bob).status_code == 404
    assert sb.delete(f"/api/jobs/{job}/sandbox", headers=alice).status_code == 200
    assert sb.get(f"/api/jobs/{job}/sandbox", headers=alice).json() == {"input": [], "output": []}
    assert sb.get("/api/jobs/sandbox", params={"pfn": result}, headers=alice).status_code == 404
    other = _submit(sb, alice, f'[Executable = "x"; InputSandbox = "{given}";]')
    assert sb.post("/api/jobs/sandbox/unassign", json={"job_ids": [other]}, headers=bob).status_code == 200
    assert sb.get(f"/api/jobs/{other}/sandbox/input", headers=alice).json() == [given]
    assert sb.post("/api/jobs/sandbox/unassign", json={"job_ids": [other]}, headers=alice).status_code == 200
    assert sb.get(f"/api/jobs/{other}/sandbox/input", headers=alice).json() == []


@pytest.fixture
def live(database: Database, tmp_path: Path) -> Iterator[tuple[str, Interware]]:
    """A live server with a sandbox store (system clock: the CLI compares expiry with real time)."""
    sock = bind()
    url = url_of(sock)
    iw = Interware(config=server_config(database.url.render_as_string(hide_password=False), issuer=url),
                   database=database, clock=SystemClock(), hooks=make_plugin_manager(()))
    with running(create_app(iw, ServerSettings(sandbox_dir=str(tmp_path / "store"))), sock):
        yield url, iw


def test_client_round_trip_and_cli_output(live: tuple[str, Interware], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    url, iw = live
    (tmp_path / "in.txt").write_text("input file")
    tokens = {user: iw.auth.issue(user, vo="demo", group=group)[1]
              for user, group in (("alice", "demo_user"), ("pilot", "demo_pilot"))}
    with RemoteInterware(url, token=tokens["alice"].access_token) as alice, \
            RemoteInterware(url, token=tokens["pilot"].access_token) as pilot:
        pfn = alice.wms.upload_sandbox([tmp_path / "in.txt"])
        assert alice.wms.upload_sandbox([tmp_path / "in.txt"]) == pfn
        [job] = alice.wms.submit(f'[Executable = "x"; InputSandbox = {{"{pfn}"}};]')
        got = pilot.wms.download_sandbox(pfn, tmp_path / "pilot")
        assert [p.read_text() for p in got] == ["input file"]
        (tmp_path / "stdout").write_text("job output")
        pilot.wms.assign_output_sandbox(job.job_id, pilot.wms.upload_sandbox([tmp_path / "stdout"]))
        assert alice.wms.sandboxes_of(job.job_id)["input"] == [pfn]

    credentials = write_credentials(tokens["alice"].response(), tmp_path / "creds.json")
    monkeypatch.setenv("DIRACX_CREDENTIALS_PATH", str(credentials))
    dest = tmp_path / "out"
    result = CliRunner().invoke(cli_app, ["job", "output", str(job.job_id), "--dest", str(dest), "--json"],
                                env={"DIRACX_URL": url, "COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["files"] == [str(dest / "stdout")]
    assert (dest / "stdout").read_text() == "job output"
    missing = CliRunner().invoke(cli_app, ["job", "output", "999999"], env={"DIRACX_URL": url})
    assert missing.exit_code == 1 and "not found" in missing.output


def test_cli_output_locally(tmp_path: Path) -> None:
    site = tmp_path / "site"
    with Interware.embedded(site) as iw:
        store = SandboxStore(database=iw.database, root=site / "sandboxes", clock=iw.clock)
        data = _archive(b"local result", "result.txt")
        [job] = iw.wms.submit('[Executable = "x";]', iw.identity("alice"))
        pfn, _ = store.init_upload(iw.identity("admin", "demo_admin"), _info(data)["checksum"], len(data),
                                   "tar.bz2")
        store.store(pfn, data)
        store.assign(job.job_id, "output", [pfn])
    dest = tmp_path / "out"
    args = ["job", "output", str(job.job_id), "--local", str(site), "--dest", str(dest)]
    result = CliRunner().invoke(cli_app, [*args, "--user", "alice"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert (dest / "result.txt").read_text() == "local result"
    other = CliRunner().invoke(cli_app, [*args, "--user", "admin", "--group", "demo_user"])
    assert other.exit_code == 1 and f"job {job.job_id} not found" in other.output


def test_unassigned_sandboxes_are_cleaned_by_the_servers_task(sb: TestClient, iw: Interware, auth: Any,
                                                                fake_clock: Any, tmp_path: Path) -> None:
    data = _archive(b"old and unused")
    pfn = _upload(sb, auth("alice"), data)
    stored = tmp_path / "store" / "demo" / f"sha256:{_info(data)['checksum']}.tar.bz2"
    assert stored.is_file()
    task = iw.scheduler.tasks["wms.sandbox_cleaning"]
    assert task.run_once() == 0  # just used
    fake_clock.advance(timedelta(days=16))  # past ServerSettings.sandbox_keep_days (15)
    assert task.run_once() == 1
    assert not stored.exists()
    assert sb.get("/api/jobs/sandbox", params={"pfn": pfn}, headers=auth("alice")).status_code == 404

"""The sandbox routes with ``ServerSettings.sandbox_se``: the bytes pass through the server to a
storage element (a file SE, the real XRootD server, moto S3) and back, on every database."""

from __future__ import annotations

import hashlib
import io
import random
import tarfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
from fastapi.testclient import TestClient
from sandbox_se_helpers import NAME, SE_KINDS, SandboxSE, sandbox_se
from server_helpers import server_config

from dirac_core.client import RemoteInterware
from dirac_core.config import Config
from dirac_core.db import Database
from dirac_core.errors import BulkFailures, ConfigError, NotFound, StorageError
from dirac_core.interware import Interware
from dirac_core.model import FakeClock, SystemClock
from dirac_core.plugins.manager import make_plugin_manager
from dirac_core.wms.sandbox_bytes import StorageElementBytes
from dirac_plugins_se.file import FileStorage
from dirac_server import ServerSettings, create_app
from dirac_server.runner import bind, running, url_of

LIMIT = 256 * 1024
Headers = dict[str, str]


def _with_se(config: Config, se: SandboxSE) -> Config:
    resources = attrs.evolve(config.resources,
                             storage_elements={**config.resources.storage_elements, NAME: se.config})
    return attrs.evolve(config, resources=resources)


def _archive(content: bytes, name: str = "out.txt") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:bz2") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def _info(data: bytes) -> dict[str, Any]:
    return {"checksum_algorithm": "sha256", "checksum": hashlib.sha256(data).hexdigest(),
            "size": len(data), "format": "tar.bz2"}


def _object(data: bytes) -> str:
    return f"demo/sha256:{hashlib.sha256(data).hexdigest()}.tar.bz2"


@pytest.fixture(params=SE_KINDS)
def sb_se(request: pytest.FixtureRequest, tmp_path: Path) -> SandboxSE:
    return sandbox_se(request.param, request, tmp_path)


@pytest.fixture
def iw(database: Database, fake_clock: FakeClock, sb_se: SandboxSE) -> Iterator[Interware]:
    """The server tests' interware, with the sandbox SE among its storage elements."""
    url = database.url.render_as_string(hide_password=False)
    interware = Interware(config=_with_se(server_config(url), sb_se), database=database, clock=fake_clock,
                          hooks=make_plugin_manager(()))
    yield interware
    interware.storage.close()


@pytest.fixture
def sb(iw: Interware) -> Iterator[TestClient]:
    settings = ServerSettings(max_body_bytes=64 * 1024, sandbox_se=NAME, sandbox_max_bytes=LIMIT)
    with TestClient(create_app(iw, settings)) as test_client:
        yield test_client


def _register(client: TestClient, headers: Headers, data: bytes) -> dict[str, Any]:
    answer = client.post("/api/jobs/sandbox", json=_info(data), headers=headers)
    assert answer.status_code == 200, answer.text
    found: dict[str, Any] = answer.json()
    return found


def _upload(client: TestClient, headers: Headers, data: bytes) -> str:
    found = _register(client, headers, data)
    if found["url"]:
        sent = client.post(found["url"], data=found["fields"], files={"file": ("file", data)})
        assert sent.status_code == 204, sent.text
    return str(found["pfn"])


def _download(client: TestClient, headers: Headers, pfn: str) -> Any:
    answer = client.get("/api/jobs/sandbox", params={"pfn": pfn}, headers=headers)
    assert answer.status_code == 200, answer.text
    return client.get(answer.json()["url"])


def test_routes_keep_the_bytes_on_the_se(sb: TestClient, iw: Interware, auth: Any, sb_se: SandboxSE,
                                         fake_clock: FakeClock) -> None:
    store = sb.app.state.sandboxes  # type: ignore[attr-defined]
    assert isinstance(store.backend, StorageElementBytes) and store.backend.se.name == NAME
    data = _archive(random.Random(3).randbytes(100_000))  # over the body limit, under the sandbox one
    first = _register(sb, auth("alice"), data)
    assert first["url"] and sb_se.listing() == []
    sent = sb.post(first["url"], data=first["fields"], files={"file": ("file", data)})
    assert sent.status_code == 204, sent.text
    assert sb_se.listing() == [_object(data)]
    assert _register(sb, auth("alice"), data) == {"pfn": first["pfn"], "url": None, "fields": {}}
    bobs = _upload(sb, auth("bob"), data)  # bob uploads it too: still one object
    assert bobs != first["pfn"] and sb_se.listing() == [_object(data)]
    got = _download(sb, auth("alice"), first["pfn"])
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-length"] == str(len(data))

    # a job's input sandbox, fetched by the pilot; its output kept on the SE and fetched by alice
    alice, pilot = auth("alice"), auth("pilot", "demo_pilot")
    submitted = sb.post("/api/jobs/jdl", json=[f'[Executable = "x"; InputSandbox = {{"{first["pfn"]}"}};]'],
                        headers=alice)
    assert submitted.status_code == 201, submitted.text
    job = submitted.json()[0]["JobID"]
    assert _download(sb, pilot, first["pfn"]).content == data
    result = _upload(sb, pilot, _archive(b"result"))
    assert sb.patch(f"/api/jobs/{job}/sandbox/output", json=result, headers=pilot).status_code == 200
    assert _download(sb, alice, result).content == _archive(b"result")
    assert sb_se.listing() == sorted([_object(data), _object(_archive(b"result"))])

    # the server's cleaning task removes the objects once no job has them
    task = iw.scheduler.tasks["wms.sandbox_cleaning"]
    fake_clock.advance(timedelta(days=16))
    assert task.run_once() == 1  # bob's record: its object stays, alice's job has it
    assert sb_se.listing() == sorted([_object(data), _object(_archive(b"result"))])
    alice = auth("alice")  # the old token expired meanwhile
    assert sb.delete(f"/api/jobs/{job}/sandbox", headers=alice).status_code == 200
    assert task.run_once() == 2
    assert sb_se.listing() == []
    assert sb.get("/api/jobs/sandbox", params={"pfn": result}, headers=alice).status_code == 404


@pytest.mark.parametrize("sb_se", ["file"], indirect=True)
def test_a_failing_se_answers_503_and_keeps_records(sb: TestClient, iw: Interware, auth: Any,
                                                    sb_se: SandboxSE, *, fake_clock: FakeClock,
                                                    monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def fail(self: FileStorage, *args: Any) -> None:
        raise StorageError("the disk went away")

    data = _archive(b"payload")
    pfn = _upload(sb, auth("alice"), data)
    with monkeypatch.context() as patch:
        patch.setattr(FileStorage, "put", fail)
        found = _register(sb, auth("bob"), data)
        sent = sb.post(found["url"], data=found["fields"], files={"file": ("file", data)})
        assert sent.status_code == 503 and "the disk went away" in sent.json()["detail"]
        patch.setattr(FileStorage, "get", fail)
        assert _download(sb, auth("alice"), pfn).status_code == 503
        patch.setattr(FileStorage, "stat", fail)  # init_upload asks whether the object is there
        assert sb.post("/api/jobs/sandbox", json=_info(data), headers=auth("alice")).status_code == 503
    # a copy replaced on the SE (its adler32 agrees): the SHA-256 refuses it, 503 not 400
    replaced = tmp_path / "replaced"
    replaced.write_bytes(_archive(b"something else"))
    iw.storage[NAME].put(replaced, f"/sandboxes/{_object(data)}")
    answer = _download(sb, auth("alice"), pfn)
    assert answer.status_code == 503 and "SHA-256" in answer.json()["detail"]

    task = iw.scheduler.tasks["wms.sandbox_cleaning"]
    fake_clock.advance(timedelta(days=16))
    with monkeypatch.context() as patch:
        patch.setattr(FileStorage, "remove", fail)
        with pytest.raises(BulkFailures, match="the disk went away"):
            task.run_once()
        assert sb_se.listing() == [_object(data)]
        reported = iw.scheduler.run_due()["wms.sandbox_cleaning"].error or ""
        assert reported.startswith("BulkFailures") and "the disk went away" in reported
    assert sb.get("/api/jobs/sandbox", params={"pfn": pfn}, headers=auth("alice")).status_code == 200
    assert task.run_once() == 2  # alice's and bob's (never uploaded) records
    assert sb_se.listing() == []


def test_settings_name_one_place(iw: Interware) -> None:
    with pytest.raises(ConfigError, match="either sandbox_dir or sandbox_se"):
        ServerSettings(sandbox_dir="/srv/sandboxes", sandbox_se=NAME)
    with pytest.raises(ConfigError, match="sandbox_se_path"):
        ServerSettings(sandbox_se=NAME, sandbox_se_path="relative/path")
    with pytest.raises(NotFound, match="no storage element 'Nowhere'"):
        create_app(iw, ServerSettings(sandbox_se="Nowhere"))


@pytest.mark.parametrize("sb_se", ["file"], indirect=True)
def test_the_client_round_trip_through_a_live_server(database: Database, sb_se: SandboxSE,
                                                     tmp_path: Path) -> None:
    sock = bind()
    url = url_of(sock)
    config = _with_se(server_config(database.url.render_as_string(hide_password=False), issuer=url), sb_se)
    iw = Interware(config=config, database=database, clock=SystemClock(), hooks=make_plugin_manager(()))
    (tmp_path / "in.txt").write_text("input file")
    with running(create_app(iw, ServerSettings(sandbox_se=NAME, sandbox_se_path="/sandboxes")), sock):
        _, tokens = iw.auth.issue("alice", vo="demo", group="demo_user")
        with RemoteInterware(url, token=tokens.access_token) as alice:
            pfn = alice.wms.upload_sandbox([tmp_path / "in.txt"])
            assert alice.wms.upload_sandbox([tmp_path / "in.txt"]) == pfn
            assert len(sb_se.listing()) == 1
            got = alice.wms.download_sandbox(pfn, tmp_path / "back")
            assert [p.read_text() for p in got] == ["input file"]
    iw.storage.close()

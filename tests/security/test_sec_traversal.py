"""Path traversal: names that would climb out of their place are refused, and nothing is written
outside it. LFNs through the catalog routes, sandbox PFNs through the sandbox routes and a job's
InputSandbox, pilot references turned into output file names, storage paths joined under an SE's
base. (The LFN parser itself is fuzzed in test_sec_fuzz_parsers.py.)
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sec_helpers import bearer

from dirac_core.errors import NotFound, StorageError
from dirac_core.interware import Interware
from dirac_core.wms.sandbox_archives import UnsafeArchive, unpack
from dirac_plugins_ce.batch.fork import Fork
from dirac_plugins_ce.batch_ce import BatchComputingElement
from dirac_plugins_ce.transports.local import LocalTransport
from dirac_plugins_se._path_rules import checked_path, join_under
from dirac_plugins_se.file import FileStorage

BAD_LFNS = ["/demo/../etc/passwd", "/demo/data/..", "/demo/./x", "/../demo", "demo/relative", "../demo",
            "/demo/a\x00b", "/demo\\..\\..\\x", "/demo/a\\b", "/demo/\n/x", "LFN:../x", ""]


def _files_under(root: Path) -> set[Path]:
    return {path for path in root.rglob("*") if path.is_file()} if root.exists() else set()


# --- catalog paths over HTTP ----------------------------------------------------------------------

def _catalog_admin(iw: Interware) -> dict[str, str]:
    return bearer(iw.auth.issue("admin", vo="demo", group="demo_catalog")[1].access_token)


def _failed_as_invalid_lfn(answer: Any, bad: list[str]) -> None:
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert not found["ok"], found["ok"]
    assert set(found["failed"]) == set(bad)
    assert {error["type"] for error in found["failed"].values()} == {"InvalidLFN"}


def test_catalog_routes_refuse_traversal_per_item(client: TestClient, iw: Interware) -> None:
    admin = _catalog_admin(iw)
    bad = [lfn for lfn in BAD_LFNS if lfn]
    for route, body in (
        ("/api/catalog/directories", {"paths": bad}),
        ("/api/catalog/files", {"files": [{"lfn": lfn, "size": 1, "checksum": "00000001"} for lfn in bad]}),
        ("/api/catalog/replicas", {"replicas": {lfn: ["SE-A"] for lfn in bad}}),
        ("/api/catalog/metadata", {"values": {lfn: {"zenith": 1} for lfn in bad}}),
        ("/api/catalog/exists", {"paths": bad}),
        ("/api/catalog/files/get", {"lfns": bad}),
        ("/api/catalog/files/remove", {"lfns": bad}),
        ("/api/catalog/directories/list", {"paths": bad}),
        ("/api/catalog/directories/remove", {"paths": bad}),
    ):
        _failed_as_invalid_lfn(client.post(route, json=body, headers=admin), bad)
    # where one path is asked for, the call is refused, with the error's type
    for route, body in (("/api/catalog/find", {"query": {}, "path": "/demo/../"}),
                        ("/api/catalog/datasets", {"name": "../x", "query": {}, "path": "/demo"}),
                        ("/api/catalog/datasets", {"name": "/demo/ds", "query": {}, "path": "/demo/.."})):
        answer = client.post(route, json=body, headers=admin)
        assert answer.status_code == 400 and answer.json()["error"]["type"] == "InvalidLFN", answer.text
    answer = client.get("/api/catalog/datasets", params={"name": "/demo/../../etc"}, headers=admin)
    assert answer.status_code == 400 and answer.json()["error"]["type"] == "InvalidLFN", answer.text
    # nothing was created anywhere: the root holds nothing
    listing = client.post("/api/catalog/directories/list", json={"paths": ["/"]}, headers=admin).json()
    assert listing["failed"] or not any(listing["ok"]["/"].values()), listing


# --- sandboxes ------------------------------------------------------------------------------------

def _archive_info(data: bytes) -> dict[str, Any]:
    return {"checksum_algorithm": "sha256", "checksum": hashlib.sha256(data).hexdigest(), "size": len(data),
            "format": "tar.bz2"}


def test_sandbox_names_cannot_leave_the_store(client: TestClient, iw: Interware, tmp_path: Path) -> None:
    alice = bearer(iw.auth.issue("alice", vo="demo")[1].access_token)
    data = b"BZh9" + b"\x00" * 60  # the bytes need not be a real archive
    registered = client.post("/api/jobs/sandbox", json=_archive_info(data), headers=alice).json()
    pfn = registered["pfn"]
    assert client.post(registered["url"], data=registered["fields"],
                       files={"file": ("f", data)}).status_code == 204
    store = tmp_path / "store"
    before = _files_under(tmp_path)
    assert len(_files_under(store)) == 1
    checksum = hashlib.sha256(data).hexdigest()
    bad_pfns = [pfn.replace("/demo/", "/../"), pfn.replace("/demo/", "/demo/../../"), f"{pfn}/../../x",
                pfn.replace("sha256:", "../sha256:"), f"SB:SandboxSE|/../../../etc/sha256:{checksum}.tar.bz2",
                f"SB:../x|/demo/demo_user/alice/sha256:{checksum}.tar.bz2", "/etc/passwd", pfn + "\x00",
                pfn.replace("|/", "|//"), pfn.replace("/", "\\")]
    for bad in bad_pfns:
        answer = client.get("/api/jobs/sandbox", params={"pfn": bad}, headers=alice)
        assert answer.status_code in (400, 422), (bad, answer.text)
        if bad.startswith("SB:"):  # the other entries of an InputSandbox are the client's local files
            jdl = f'[Executable = "/bin/echo"; InputSandbox = {{"{bad}"}}]'
            answer = client.post("/api/jobs/jdl", json=[jdl], headers=alice)
            assert answer.status_code == 400, (bad, answer.text)
    [job] = client.post("/api/jobs/jdl", json=['[Executable = "/bin/echo"]'], headers=alice).json()
    for bad in bad_pfns[:4]:
        answer = client.patch(f"/api/jobs/{job['JobID']}/sandbox/output", json=bad, headers=alice)
        assert answer.status_code in (400, 404, 422), answer.text
    # a download or upload token naming a traversal: the server never signs one; were it to, the
    # store still refuses the name
    for kind in ("sandbox-download", "sandbox-upload"):
        token = iw.auth.tokens.sign({"iss": iw.config.auth.issuer, "aud": iw.config.auth.audience,
                                     "typ": kind, "pfn": bad_pfns[1], "exp": 2**40})
        if kind.endswith("download"):
            answer = client.get("/api/jobs/sandbox/download", params={"token": token})
        else:
            answer = client.post("/api/jobs/sandbox/upload", data={"token": token},
                                 files={"file": ("f", data)})
        assert answer.status_code == 400, answer.text
    assert _files_under(tmp_path) == before


def _tar(tmp_path: Path, name: str, **member: Any) -> Path:
    archive = tmp_path / "evil.tar.bz2"
    with tarfile.open(archive, "w:bz2") as tar:
        info = tarfile.TarInfo(name)
        for key, value in member.items():
            setattr(info, key, value)
        payload = b"" if info.type != tarfile.REGTYPE else b"owned"
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    return archive


@pytest.mark.parametrize(("name", "member"), [
    ("../evil", {}), ("a/../../evil", {}), ("/tmp/evil", {}),
    ("link", {"type": tarfile.SYMTYPE, "linkname": "/etc"}),
    ("hard", {"type": tarfile.LNKTYPE, "linkname": "../../etc/passwd"}), ("fifo", {"type": tarfile.FIFOTYPE}),
])
def test_sandbox_archives_cannot_write_outside_the_job(tmp_path: Path, name: str,
                                                       member: dict[str, Any]) -> None:
    archive = _tar(tmp_path, name, **member)
    before = _files_under(tmp_path)
    with pytest.raises(UnsafeArchive):
        unpack(archive, tmp_path / "job" / "work")
    assert _files_under(tmp_path) == before
    assert not (tmp_path / "job" / "work").exists() or not any((tmp_path / "job" / "work").iterdir())


# --- pilot references and pilot output files ------------------------------------------------------

def test_pilot_references_cannot_name_files_outside_the_work_dir(tmp_path: Path) -> None:
    work = tmp_path / "ce"
    (work / "output").mkdir(parents=True)
    secret = tmp_path / "secret"
    secret.with_suffix(".out").write_text("the secret")
    ce = BatchComputingElement(name="ce", batch=Fork(), transport=LocalTransport(), work_dir=str(work))
    with ce:
        for reference in ("batch://ce/../../secret", "batch://ce/../secret", "batch://ce/../../secret@x",
                          "batch://ce/a/b", "batch://ce/", "batch://ce/x\x00y", "batch://other/1"):
            with pytest.raises(NotFound):
                ce.output(reference)
        # a stamp is only a name: its script stays in the work directory
        result = ce.submit("#!/bin/sh\ntrue\n", ["../../escape", "a/b"])
        assert set(result.ok) == {"../../escape", "a/b"}, result.failed
        for reference in result.ok.values():
            ce.output(reference)  # real references still work
    assert not (tmp_path / "escape.sh").exists() and not (tmp_path.parent / "escape.sh").exists()
    assert {path.name for path in work.glob("*.sh")} >= {"______escape.sh", "a_b.sh"}


# --- storage paths --------------------------------------------------------------------------------

BAD_STORAGE_PATHS = ["/../outside", "/vo/../../outside", "/vo/..", "/./vo", "relative", "../x", "",
                     "/vo/a\x00b"]


@pytest.mark.parametrize("path", BAD_STORAGE_PATHS)
def test_storage_paths_are_checked_before_any_io(path: str) -> None:
    with pytest.raises(StorageError):
        checked_path(path)
    with pytest.raises(StorageError):
        join_under("/base", path)


def test_joined_paths_stay_under_the_base() -> None:
    assert join_under("/base", "//etc//passwd") == "/base/etc/passwd"
    assert join_under("/base/", "/") == "/base"
    assert join_under("/base", "/a/...") == "/base/a/..."  # a name, not a step up


def test_file_storage_writes_nothing_outside_its_base(tmp_path: Path) -> None:
    base = tmp_path / "se"
    source = tmp_path / "source.txt"
    source.write_text("payload")
    storage = FileStorage(str(base))
    storage.put(source, "/vo/ok.txt")
    before = _files_under(tmp_path)
    for path in BAD_STORAGE_PATHS:
        for call in (lambda p=path: storage.put(source, p), lambda p=path: storage.get(p, tmp_path / "got"),
                     lambda p=path: storage.stat(p), lambda p=path: storage.remove(p),
                     lambda p=path: storage.listdir(p), lambda p=path: storage.url(p),
                     lambda p=path: storage.copy_from(f"file://{source}", p)):
            with pytest.raises(StorageError):
                call()
    assert _files_under(tmp_path) == before
    storage.put(source, "//vo//ok2.txt")  # doubled slashes collapse: still under the base
    assert (base / "vo" / "ok2.txt").read_text() == "payload"

"""The sandbox store: content-addressed uploads, checks, jobs' sandboxes, cleaning, safe archives."""

from __future__ import annotations

import hashlib
import io
import tarfile
from datetime import timedelta
from pathlib import Path

import pytest
from wms_helpers import ADMIN, who

from dirac_core.db import Database
from dirac_core.errors import ChecksumMismatch, JDLError, NotFound
from dirac_core.model import FakeClock
from dirac_core.wms import WorkloadManager
from dirac_core.wms.sandbox_archives import UnsafeArchive, pack, unpack
from dirac_core.wms.sandbox_bytes import DirectoryBytes
from dirac_core.wms.sandboxes import InvalidSandbox, SandboxPFN, SandboxStore

DATA = b"some sandbox bytes" * 100
SUM = hashlib.sha256(DATA).hexdigest()


def _root(store: SandboxStore) -> Path:
    assert isinstance(store.backend, DirectoryBytes)
    return store.backend.root


@pytest.fixture
def store(database: Database, fake_clock: FakeClock, tmp_path: Path) -> SandboxStore:
    return SandboxStore(database=database, root=tmp_path / "sb", clock=fake_clock, max_size=1 << 20)


def _uploaded(store: SandboxStore, user: str = "alice", data: bytes = DATA) -> str:
    pfn, exists = store.init_upload(who(user), hashlib.sha256(data).hexdigest(), len(data), "tar.bz2")
    if not exists:
        store.store(pfn, io.BytesIO(data))
    return pfn


def test_upload_is_content_addressed_and_checked(store: SandboxStore) -> None:
    pfn, exists = store.init_upload(who(), SUM.upper(), len(DATA), "tar.bz2")
    assert not exists
    assert pfn == f"SB:SandboxSE|/demo/demo_user/alice/sha256:{SUM}.tar.bz2"
    with pytest.raises(NotFound), store.local_file(pfn):
        pass
    store.store(pfn, DATA)
    assert store.init_upload(who(), SUM, len(DATA), "tar.bz2") == (pfn, True)
    with store.local_file(pfn) as path:  # a directory store: the file itself
        assert path == _root(store) / "demo" / f"sha256:{SUM}.tar.bz2"
    with store.open(pfn) as handle:
        assert handle.read() == DATA
    # another user with the same content gets a PFN of their own and must upload it
    other, exists = store.init_upload(who("bob"), SUM, len(DATA), "tar.bz2")
    assert other != pfn and not exists


def test_mismatch_keeps_nothing(store: SandboxStore) -> None:
    pfn, _ = store.init_upload(who(), SUM, len(DATA), "tar.bz2")
    for wrong in (DATA[:-1] + b"X", DATA + b"more", DATA[:-1]):
        with pytest.raises(ChecksumMismatch):
            store.store(pfn, io.BytesIO(wrong))
    assert list(_root(store).iterdir()) == []  # nothing kept, no staged upload left
    assert not store.get(pfn)["uploaded"]


@pytest.mark.parametrize(("checksum", "size", "fmt"), [
    ("abc", 10, "tar.bz2"), (SUM, 0, "tar.bz2"), (SUM, (1 << 20) + 1, "tar.bz2"), (SUM, 10, "zip")])
def test_init_upload_refuses_bad_requests(store: SandboxStore, checksum: str, size: int, fmt: str) -> None:
    with pytest.raises(InvalidSandbox):
        store.init_upload(who(), checksum, size, fmt)


@pytest.mark.parametrize("pfn", [
    f"SB:SandboxSE|/../demo_user/alice/sha256:{SUM}.tar.bz2",
    f"SB:SandboxSE|/demo/../alice/sha256:{SUM}.tar.bz2",
    f"SB:SandboxSE|/demo/demo_user/alice/sha256:{SUM}.tar.bz2/../../x",
    f"SB:SandboxSE|//etc/demo_user/alice/sha256:{SUM}.tar.bz2",
    "/etc/passwd", f"SB:SandboxSE|/demo/demo_user/alice/sha256:{SUM[:-1]}.tar.bz2", "",
])
def test_pfns_are_validated(store: SandboxStore, pfn: str) -> None:
    with pytest.raises(InvalidSandbox, match="invalid sandbox PFN"):
        store.get(pfn)


def test_pfn_round_trip() -> None:
    text = f"SB:SandboxSE|/demo/demo_pilot/pilot:abc/sha256:{SUM}.tar.zst"
    parsed = SandboxPFN.parse(text)
    assert (parsed.user, parsed.format, str(parsed)) == ("pilot:abc", "tar.zst", text)


def test_jobs_sandboxes_and_cleaning(store: SandboxStore, wms: WorkloadManager,
                                     fake_clock: FakeClock) -> None:
    pfn = _uploaded(store)
    out = _uploaded(store, "bob", b"output")
    [job] = wms.submit(f'[Executable = "x"; InputSandbox = {{"{pfn}", "local.txt"}};]', who())
    assert store.of_job(job.job_id) == {"input": [pfn], "output": []}
    store.assign(job.job_id, "output", [out, out])
    store.assign(job.job_id, "output", [out])
    assert store.of_job(job.job_id) == {"input": [pfn], "output": [out]}
    assert sorted(store.jobs_of(out)) == [(job.job_id, "output")]
    unused = _uploaded(store, "carol", b"never used")
    fake_clock.advance(timedelta(days=30))
    assert sorted(store.clean(timedelta(days=7)).ok) == [unused]  # carol's: no job has it
    never = hashlib.sha256(b"never used").hexdigest()
    assert not (_root(store) / "demo" / f"sha256:{never}.tar.bz2").exists()
    with pytest.raises(NotFound):
        store.get(unused)
    assert store.unassign([job.job_id]) == 2
    assert sorted(store.clean(timedelta(days=7)).ok) == sorted([pfn, out])
    assert list((_root(store) / "demo").iterdir()) == []


def test_clean_keeps_files_other_pfns_share(store: SandboxStore, fake_clock: FakeClock) -> None:
    mine = _uploaded(store)
    fake_clock.advance(timedelta(days=30))
    theirs = _uploaded(store, "bob")
    assert list(store.clean(timedelta(days=7)).ok) == [mine]
    with store.local_file(theirs) as path:
        assert path.read_bytes() == DATA
    with pytest.raises(NotFound):
        store.get(mine)


def test_submission_checks_input_sandboxes(store: SandboxStore, wms: WorkloadManager) -> None:
    pfn = _uploaded(store)
    pending, _ = store.init_upload(who(), hashlib.sha256(b"later").hexdigest(), 5, "tar.bz2")
    for bad in (pending, pfn.replace("alice", "dave"), "SB:SandboxSE|/demo/../x"):
        with pytest.raises(JDLError, match="InputSandbox"):
            wms.submit(f'[Executable = "x"; InputSandbox = {{"{bad}"}};]', who())
    with pytest.raises(JDLError, match="no such uploaded sandbox"):  # bob may not use alice's
        wms.submit(f'[Executable = "x"; InputSandbox = "{pfn}";]', who("bob"))
    assert wms.search(["JobID"]).total == 0
    [job] = wms.submit(f'[Executable = "x"; InputSandbox = "{pfn}";]', ADMIN)  # administrators may
    assert store.of_job(job.job_id)["input"] == [pfn]
    jobs = wms.submit(f'[Executable = "x"; Parameters = 3; InputSandbox = "{pfn}";]', who())
    assert all(store.of_job(j.job_id)["input"] == [pfn] for j in jobs)


def test_pack_and_unpack(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("A")
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "b.txt").write_text("B")
    buffer = io.BytesIO()
    checksum, size = pack([tmp_path / "a.txt", tmp_path / "dir"], buffer)
    assert (checksum, size) == (hashlib.sha256(buffer.getvalue()).hexdigest(), len(buffer.getvalue()))
    archive = tmp_path / "sb.tar.bz2"
    archive.write_bytes(buffer.getvalue())
    files = unpack(archive, tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in files) == ["a.txt", "dir/b.txt"]
    assert (tmp_path / "out" / "dir" / "b.txt").read_text() == "B"


@pytest.mark.parametrize("name", ["../evil", "/abs/evil", "ok/../../evil", "link"])
def test_unpack_refuses_escaping_members(tmp_path: Path, name: str) -> None:
    archive = tmp_path / "bad.tar.bz2"
    with tarfile.open(archive, "w:bz2") as tar:
        info = tarfile.TarInfo(name)
        if name == "link":
            info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
            tar.addfile(info)
        else:
            info.size = 4
            tar.addfile(info, io.BytesIO(b"evil"))
    with pytest.raises(UnsafeArchive):
        unpack(archive, tmp_path / "out")
    assert not (tmp_path / "evil").exists()
    assert not list((tmp_path / "out").iterdir())

"""The sandbox store on a storage element: a file SE, the real XRootD server and moto S3.

Upload, deduplication across users (one object per VO and content), download checked against
the SHA-256, jobs' sandboxes, cleaning that removes the SE's objects, and a failing SE during
cleaning keeping its records for the next sweep; on SQLite, MariaDB and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sandbox_se_helpers import SE_KINDS, SandboxSE, sandbox_se
from wms_helpers import who

from dirac_core.db import Database
from dirac_core.dms.storage_element import StorageElement
from dirac_core.errors import BulkFailures, ChecksumMismatch, NotFound, StorageError
from dirac_core.model import FakeClock, Identity
from dirac_core.plugins.storage import StorageProtocol
from dirac_core.wms import WorkloadManager
from dirac_core.wms.sandbox_bytes import StorageElementBytes
from dirac_core.wms.sandboxes import SandboxCleaning, SandboxStore

DATA = b"some sandbox bytes" * 1000
SUM = hashlib.sha256(DATA).hexdigest()
OBJECT = f"demo/sha256:{SUM}.tar.bz2"


@pytest.fixture(params=SE_KINDS)
def sb_se(request: pytest.FixtureRequest, tmp_path: Path) -> SandboxSE:
    return sandbox_se(request.param, request, tmp_path)


@pytest.fixture
def built(sb_se: SandboxSE) -> Iterator[tuple[StorageElement, StorageProtocol]]:
    se, driver = sb_se.build()
    yield se, driver
    se.close()


@pytest.fixture
def store(database: Database, fake_clock: FakeClock,
          built: tuple[StorageElement, StorageProtocol]) -> SandboxStore:
    return SandboxStore(database=database, backend=StorageElementBytes(built[0]), clock=fake_clock,
                        max_size=1 << 20)


def _upload(store: SandboxStore, identity: Identity, data: bytes = DATA) -> str:
    pfn, exists = store.init_upload(identity, hashlib.sha256(data).hexdigest(), len(data), "tar.bz2")
    if not exists:
        store.store(pfn, io.BytesIO(data))
    return pfn


def _object(data: bytes, vo: str = "demo") -> str:
    return f"{vo}/sha256:{hashlib.sha256(data).hexdigest()}.tar.bz2"


def test_upload_is_one_object_per_vo_and_content(store: SandboxStore, sb_se: SandboxSE,
                                                 built: tuple[StorageElement, StorageProtocol]) -> None:
    pfn, exists = store.init_upload(who(), SUM, len(DATA), "tar.bz2")
    assert not exists and sb_se.listing() == []
    store.store(pfn, DATA)
    assert sb_se.listing() == [OBJECT]
    se, _ = built
    assert se.stat(f"/sandboxes/{OBJECT}").size == len(DATA)
    assert store.init_upload(who(), SUM, len(DATA), "tar.bz2") == (pfn, True)
    # bob has a PFN of his own and must upload the bytes too; they stay one object
    bobs, exists = store.init_upload(who("bob"), SUM, len(DATA), "tar.bz2")
    assert bobs != pfn and not exists
    with pytest.raises(ChecksumMismatch):  # knowing the checksum is not enough
        store.store(bobs, DATA[:-1] + b"!")
    store.store(bobs, DATA)
    assert sb_se.listing() == [OBJECT]
    # another VO gets an object of its own
    _upload(store, Identity(user="eve", group="other_user", vo="other"))
    assert sb_se.listing() == [OBJECT, _object(DATA, "other")]
    for each in (pfn, bobs):
        with store.local_file(each) as copy:
            assert copy.read_bytes() == DATA
            assert copy.name == f"sha256:{SUM}.tar.bz2"
        assert not copy.exists()  # the fetched copy is gone after the block
    with store.open(bobs) as handle:
        assert handle.read() == DATA


def test_download_checks_the_sha256(store: SandboxStore, sb_se: SandboxSE,
                                    built: tuple[StorageElement, StorageProtocol], tmp_path: Path) -> None:
    pfn = _upload(store, who())
    # replaced through the SE itself: its adler32 agrees, only the SHA-256 can tell
    other = tmp_path / "other"
    other.write_bytes(DATA[::-1])
    se, _ = built
    se.put(other, f"/sandboxes/{OBJECT}")
    with pytest.raises(ChecksumMismatch, match="SHA-256"), store.local_file(pfn):
        pytest.fail("a wrong copy was handed out")
    # removed behind the store's back: not found, and the next init_upload asks for the bytes
    se.remove(f"/sandboxes/{OBJECT}")
    with pytest.raises(NotFound, match="not uploaded"), store.local_file(pfn):
        pytest.fail("a missing object was handed out")
    assert store.init_upload(who(), SUM, len(DATA), "tar.bz2") == (pfn, False)
    store.store(pfn, DATA)
    with store.local_file(pfn) as copy:
        assert copy.read_bytes() == DATA


def test_a_failing_upload_is_a_storage_error_and_keeps_nothing(
        store: SandboxStore, sb_se: SandboxSE, built: tuple[StorageElement, StorageProtocol],
        monkeypatch: pytest.MonkeyPatch) -> None:
    _, driver = built

    def refuse(source: Path, path: str) -> None:
        raise StorageError("the storage is full", url=driver.url(path))

    monkeypatch.setattr(driver, "put", refuse)
    pfn, _ = store.init_upload(who(), SUM, len(DATA), "tar.bz2")
    with pytest.raises(StorageError, match="could not keep it") as caught:
        store.store(pfn, DATA)
    assert not isinstance(caught.value, ChecksumMismatch)  # the upload was right
    assert not store.get(pfn)["uploaded"] and sb_se.listing() == []


def test_jobs_sandboxes_and_cleaning_remove_the_objects(store: SandboxStore, sb_se: SandboxSE,
                                                        wms: WorkloadManager, fake_clock: FakeClock) -> None:
    given = _upload(store, who())
    out = _upload(store, who("bob"), b"output")
    [job] = wms.submit(f'[Executable = "x"; InputSandbox = {{"{given}"}};]', who())
    store.assign(job.job_id, "output", [out])
    assert store.of_job(job.job_id) == {"input": [given], "output": [out]}
    unused = _upload(store, who("carol"), b"never used")
    assert sb_se.listing() == sorted([OBJECT, _object(b"output"), _object(b"never used")])
    fake_clock.advance(timedelta(days=30))
    cleaned = store.clean(timedelta(days=7))
    assert (list(cleaned.ok), cleaned.failed) == ([unused], {})
    assert sb_se.listing() == sorted([OBJECT, _object(b"output")])
    with pytest.raises(NotFound):
        store.get(unused)
    assert store.unassign([job.job_id]) == 2
    assert sorted(store.clean(timedelta(days=7)).ok) == sorted([given, out])
    assert sb_se.listing() == []


def test_cleaning_keeps_an_object_another_record_shares(store: SandboxStore, sb_se: SandboxSE,
                                                        fake_clock: FakeClock) -> None:
    mine = _upload(store, who())
    fake_clock.advance(timedelta(days=30))
    theirs = _upload(store, who("bob"))
    assert list(store.clean(timedelta(days=7)).ok) == [mine]
    assert sb_se.listing() == [OBJECT]
    with store.local_file(theirs) as copy:
        assert copy.read_bytes() == DATA
    fake_clock.advance(timedelta(days=30))
    assert list(store.clean(timedelta(days=7)).ok) == [theirs]
    assert sb_se.listing() == []


def test_a_failing_se_keeps_the_records_for_the_next_sweep(
        store: SandboxStore, sb_se: SandboxSE, built: tuple[StorageElement, StorageProtocol],
        fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    _, driver = built
    mine, bobs = _upload(store, who()), _upload(store, who("bob"))
    other = _upload(store, who(), b"other content")
    fake_clock.advance(timedelta(days=30))

    def broken(path: str) -> None:
        if OBJECT in path:
            raise StorageError("connection reset by peer", url=driver.url(path))
        type(driver).remove(driver, path)

    monkeypatch.setattr(driver, "remove", broken)
    task = SandboxCleaning(store, timedelta(days=7))
    with pytest.raises(BulkFailures, match=r"sandbox cleaning \(.*connection reset.*\): 2 of 3") as caught:
        task.run_once()
    assert all("connection reset" in str(e) for e in caught.value.exceptions)
    assert sorted(note for e in caught.value.exceptions for note in e.__notes__) == sorted(
        [f"item: {mine!r}", f"item: {bobs!r}"])
    # the other sandbox went; the two sharing the stubborn object stay, object and records
    with pytest.raises(NotFound):
        store.get(other)
    assert store.get(mine)["uploaded"] and store.get(bobs)["uploaded"]
    assert sb_se.listing() == [OBJECT]
    monkeypatch.undo()
    assert task.run_once() == 2
    assert sb_se.listing() == []
    with pytest.raises(NotFound):
        store.get(mine)


def test_a_record_used_while_its_object_goes_is_uploaded_again(
        store: SandboxStore, sb_se: SandboxSE, built: tuple[StorageElement, StorageProtocol],
        fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    pfn = _upload(store, who())
    fake_clock.advance(timedelta(days=30))
    _, driver = built
    remove = driver.remove

    def used_meanwhile(path: str) -> None:  # the sandbox is asked for while the SE removes it
        remove(path)
        store.init_upload(who(), SUM, len(DATA), "tar.bz2")

    monkeypatch.setattr(driver, "remove", used_meanwhile)
    result = store.clean(timedelta(days=7))
    assert (list(result.ok), result.failed) == ([], {})
    assert sb_se.listing() == []
    assert not store.get(pfn)["uploaded"]  # so its next init_upload asks for the bytes again
    monkeypatch.undo()
    assert store.init_upload(who(), SUM, len(DATA), "tar.bz2") == (pfn, False)

"""The file storage driver against a real local file system."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from dirac_core.checksums import adler32_bytes
from dirac_core.config.sections import FileProtocol, S3Protocol
from dirac_core.errors import ChecksumMismatch, ConfigError, NotFound, PluginError, StorageError
from dirac_core.plugins.storage import StorageProtocol
from dirac_core.testing.conformance import StorageProtocolSuite
from dirac_plugins_se.file import DEFAULT_CHECKSUM_XATTR, FileStorage

ESCAPING = ["/../outside", "/vo/../../outside", "/vo/./f", "relative/path", "", "/vo/\x00f"]


def supports_user_xattrs(folder: Path) -> bool:
    probe = folder / ".xattr-probe"
    probe.write_bytes(b"")
    try:
        os.setxattr(probe, "user.probe", b"1")
    except (OSError, AttributeError):
        return False
    finally:
        probe.unlink()
    return True


@pytest.fixture
def xattr_dir(tmp_path: Path) -> Path:
    if not supports_user_xattrs(tmp_path):
        pytest.skip(f"the file system of {tmp_path} keeps no user extended attributes")
    return tmp_path


class TestFileStorageConformance(StorageProtocolSuite):
    capabilities = frozenset({"checksum", "third_party_copy"})

    @pytest.fixture
    def driver(self, tmp_path: Path) -> StorageProtocol:
        return FileStorage(tmp_path / "se")


class TestFileStorageWithoutXattrConformance(StorageProtocolSuite):
    capabilities = frozenset({"checksum", "third_party_copy"})

    @pytest.fixture
    def driver(self, tmp_path: Path) -> StorageProtocol:
        return FileStorage(tmp_path / "se", checksum_xattr=None)


def corrupt(path: Path) -> None:
    """Change one byte in place, as bit rot would: same inode, same extended attributes."""
    with path.open("r+b") as fh:
        first = fh.read(1)
        fh.seek(0)
        fh.write(bytes([first[0] ^ 0xFF]))


def test_put_records_the_checksum_and_lays_out_the_file(xattr_dir: Path) -> None:
    se = FileStorage(xattr_dir / "se")
    source = xattr_dir / "src"
    source.write_bytes(b"payload" * 1000)
    stat = se.put(source, "/vo/a/f")
    local = xattr_dir / "se" / "vo" / "a" / "f"
    assert local.read_bytes() == source.read_bytes()
    assert stat.checksum == adler32_bytes(source.read_bytes())
    assert os.getxattr(local, DEFAULT_CHECKSUM_XATTR).decode() == stat.checksum
    assert local.stat().st_mode & 0o777 == 0o644
    assert se.url("/vo/a/f") == f"file://{xattr_dir}/se/vo/a/f"


def test_corruption_at_rest_is_refused_without_partial_file(xattr_dir: Path) -> None:
    se = FileStorage(xattr_dir / "se")
    source = xattr_dir / "src"
    source.write_bytes(bytes(range(256)) * 100)
    se.put(source, "/vo/f")
    corrupt(xattr_dir / "se" / "vo" / "f")
    out = xattr_dir / "out"
    out.mkdir()
    destination = out / "copy"
    with pytest.raises(ChecksumMismatch) as info:
        se.get("/vo/f", destination)
    assert info.value.expected == adler32_bytes(source.read_bytes())  # type: ignore[attr-defined]
    assert info.value.url == se.url("/vo/f")  # type: ignore[attr-defined]
    assert list(out.iterdir()) == []
    # an existing destination is left as it was
    destination.write_bytes(b"old")
    with pytest.raises(ChecksumMismatch):
        se.get("/vo/f", destination)
    assert destination.read_bytes() == b"old"
    assert sorted(p.name for p in out.iterdir()) == ["copy"]
    # the reference stays the checksum recorded at upload
    assert se.stat("/vo/f").checksum == adler32_bytes(source.read_bytes())


def test_without_checksum_attribute_corruption_goes_unnoticed(tmp_path: Path) -> None:
    se = FileStorage(tmp_path / "se", checksum_xattr=None)
    source = tmp_path / "src"
    source.write_bytes(b"abcdef")
    se.put(source, "/f")
    corrupt(tmp_path / "se" / "f")
    got = se.get("/f", tmp_path / "copy")
    assert got.checksum == adler32_bytes((tmp_path / "copy").read_bytes())
    assert (tmp_path / "copy").read_bytes() != b"abcdef"


def test_a_file_placed_by_other_means_gets_its_checksum_recorded(xattr_dir: Path) -> None:
    se = FileStorage(xattr_dir / "se")
    (xattr_dir / "se" / "vo").mkdir(parents=True)
    local = xattr_dir / "se" / "vo" / "external"
    local.write_bytes(b"from elsewhere")
    assert se.stat("/vo/external").checksum == adler32_bytes(b"from elsewhere")
    assert os.getxattr(local, DEFAULT_CHECKSUM_XATTR) == adler32_bytes(b"from elsewhere").encode()


def test_a_foreign_checksum_attribute_is_read_normalised(xattr_dir: Path) -> None:
    se = FileStorage(xattr_dir / "se", checksum_xattr="user.storm.checksum.adler32")
    (xattr_dir / "se").mkdir()
    local = xattr_dir / "se" / "f"
    local.write_bytes(b"hello\n")
    os.setxattr(local, "user.storm.checksum.adler32", b"84B021F")  # written by another tool
    assert se.stat("/f").checksum == "084b021f"
    assert se.get("/f", xattr_dir / "copy").checksum == "084b021f"


@pytest.mark.parametrize("path", ESCAPING)
def test_paths_leaving_the_base_are_refused_before_any_io(tmp_path: Path, path: str) -> None:
    base = tmp_path / "se"
    se = FileStorage(base)
    source = tmp_path / "src"
    source.write_bytes(b"x")
    calls: list[Callable[[], object]] = [
        lambda: se.put(source, path), lambda: se.get(path, tmp_path / "out" / "x"), lambda: se.stat(path),
        lambda: se.remove(path), lambda: se.listdir(path), lambda: se.url(path), lambda: se.exists(path)]
    for call in calls:
        with pytest.raises(StorageError, match="storage path"):
            call()
    assert not base.exists()
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "outside").exists()


def test_missing_things(tmp_path: Path) -> None:
    se = FileStorage(tmp_path / "se")
    (tmp_path / "se" / "vo").mkdir(parents=True)
    (tmp_path / "se" / "vo" / "file").write_bytes(b"x")
    for path in ("/vo/none", "/vo/file/below"):
        with pytest.raises(NotFound):
            se.stat(path)
        with pytest.raises(NotFound):
            se.get(path, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
    with pytest.raises(NotFound):
        se.listdir("/nothing")
    with pytest.raises(StorageError, match="not a directory"):
        se.listdir("/vo/file")
    se.remove("/vo/file/below")  # a missing file counts as removed


def test_directories_are_not_files(tmp_path: Path) -> None:
    se = FileStorage(tmp_path / "se")
    source = tmp_path / "src"
    source.write_bytes(b"x")
    se.put(source, "/vo/d/f")
    for call in (lambda: se.put(source, "/vo/d"), lambda: se.get("/vo/d", tmp_path / "x"),
                 lambda: se.remove("/vo/d"), lambda: se.put(source, "/vo/d/f/g"),
                 lambda: se.put(source, "/")):
        with pytest.raises(StorageError):
            call()
    assert se.stat("/vo/d/f").size == 1
    assert se.stat("/").is_dir


def test_a_failed_put_keeps_the_old_file_and_leaves_no_partial(tmp_path: Path) -> None:
    se = FileStorage(tmp_path / "se")
    source = tmp_path / "src"
    source.write_bytes(b"first")
    se.put(source, "/vo/f")
    with pytest.raises(StorageError, match="cannot read local file"):
        se.put(tmp_path / "missing-source", "/vo/f")
    unreadable = tmp_path / "a-directory"
    unreadable.mkdir()
    with pytest.raises(StorageError):
        se.put(unreadable, "/vo/f")
    assert (tmp_path / "se" / "vo" / "f").read_bytes() == b"first"
    assert sorted(p.name for p in (tmp_path / "se" / "vo").iterdir()) == ["f"]


def test_listdir_hides_unfinished_transfers(tmp_path: Path) -> None:
    se = FileStorage(tmp_path / "se")
    (tmp_path / "se" / "d").mkdir(parents=True)
    (tmp_path / "se" / "d" / "f").write_bytes(b"")
    (tmp_path / "se" / "d" / ".f.dirac-part-abc123").write_bytes(b"half")
    assert se.listdir("/d") == ["f"]


def test_get_creates_the_destination_folder(tmp_path: Path) -> None:
    se = FileStorage(tmp_path / "se")
    source = tmp_path / "src"
    source.write_bytes(b"data")
    se.put(source, "/f")
    assert se.get("/f", tmp_path / "a" / "b" / "c").size == 4
    assert (tmp_path / "a" / "b" / "c").read_bytes() == b"data"


def test_from_section(tmp_path: Path) -> None:
    se = FileStorage.from_section(FileProtocol(path=str(tmp_path), options={"checksum_xattr": ""}))
    assert se.base == tmp_path
    assert se.checksum_xattr is None
    assert FileStorage.from_section(FileProtocol(path=str(tmp_path))).checksum_xattr == DEFAULT_CHECKSUM_XATTR
    with pytest.raises(ConfigError, match=r"options\.bogus"):
        FileStorage.from_section(FileProtocol(path=str(tmp_path), options={"bogus": 1}))
    with pytest.raises(ConfigError, match="absolute"):
        FileStorage.from_section(FileProtocol(path="relative"))
    with pytest.raises(PluginError, match="FileProtocol"):
        FileStorage.from_section(S3Protocol(bucket="b"))
    with pytest.raises(ValueError, match="absolute"):
        FileStorage("relative/base")

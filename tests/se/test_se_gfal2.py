"""The gfal2 storage driver, through Debian's gfal2 bindings and real gfal2 protocol plugins.

``file://`` (gfal2-plugin-file) runs against a temporary folder; ``root://``
(gfal2-plugin-xrootd) and ``davs://`` (gfal2-plugin-http) run against the
real XRootD server of :mod:`dirac_core.testing.xrootd`.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from dirac_core.checksums import adler32_bytes, adler32_file
from dirac_core.config.sections import FileProtocol, Gfal2Protocol
from dirac_core.errors import (
    ChecksumMismatch,
    ConfigError,
    NotFound,
    PluginError,
    PluginUnavailable,
    StorageError,
)
from dirac_core.plugins.storage import StorageProtocol
from dirac_core.testing.conformance import StorageProtocolSuite
from dirac_core.testing.databases import skip_or_fail
from dirac_plugins_se._gfal2_import import import_gfal2
from dirac_plugins_se.file import DEFAULT_CHECKSUM_XATTR, FileStorage
from dirac_plugins_se.gfal2 import Gfal2Storage


@pytest.fixture(scope="module")
def gfal2_module() -> ModuleType:
    """The gfal2 bindings with the file plugin (skipped, or failed in CI, when missing)."""
    try:
        module = import_gfal2()
    except PluginUnavailable as exc:
        skip_or_fail(f"gfal2 unavailable: {exc}")
    context = module.creat_context()
    plugins = context.get_plugin_names()
    context.free()
    if not any(name.startswith("file-") for name in plugins):
        skip_or_fail(f"gfal2's file plugin (Debian: gfal2-plugin-file) is not installed; found {plugins}")
    return module


@pytest.fixture
def file_base(gfal2_module: ModuleType, tmp_path: Path) -> Path:
    base = tmp_path / "se"
    base.mkdir()
    return base


class TestGfal2FileConformance(StorageProtocolSuite):
    capabilities = frozenset({"checksum", "third_party_copy"})

    @pytest.fixture
    def driver(self, file_base: Path) -> Iterator[StorageProtocol]:
        with Gfal2Storage(base_url=f"file://{file_base}") as driver:
            yield driver


class TestGfal2FileWithChecksumXattrConformance(StorageProtocolSuite):
    capabilities = frozenset({"checksum", "third_party_copy"})

    @pytest.fixture
    def driver(self, file_base: Path) -> Iterator[StorageProtocol]:
        with Gfal2Storage(base_url=f"file://{file_base}", checksum_xattr=DEFAULT_CHECKSUM_XATTR) as driver:
            yield driver


def corrupt(path: Path) -> None:
    """Change one byte in place, keeping the inode, its attributes and its modification time."""
    before = path.stat()
    with path.open("r+b") as fh:
        first = fh.read(1)
        fh.seek(0)
        fh.write(bytes([first[0] ^ 0xFF]))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_scheme_and_url(file_base: Path) -> None:
    se = Gfal2Storage(base_url=f"file://{file_base}")
    assert se.scheme == "file"
    assert se.url("/vo/f") == f"file://{file_base}/vo/f"
    assert se.url("/") == f"file://{file_base}/"
    assert Gfal2Storage(base_url="root://h:1094//").url("/vo/f") == "root://h:1094//vo/f"


def test_put_verifies_and_records_the_checksum(file_base: Path, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.write_bytes(b"abc" * 5000)
    with Gfal2Storage(base_url=f"file://{file_base}", checksum_xattr=DEFAULT_CHECKSUM_XATTR) as se:
        put = se.put(source, "/vo/deep/er/f")
    stored = file_base / "vo" / "deep" / "er" / "f"
    assert put.checksum == adler32_file(source) == adler32_file(stored)
    assert os.getxattr(stored, DEFAULT_CHECKSUM_XATTR).decode() == put.checksum


def test_corruption_at_rest_is_refused_without_partial_file(file_base: Path, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.write_bytes(bytes(range(256)) * 64)
    out = tmp_path / "out"
    out.mkdir()
    with Gfal2Storage(base_url=f"file://{file_base}", checksum_xattr=DEFAULT_CHECKSUM_XATTR) as se:
        se.put(source, "/vo/f")
        corrupt(file_base / "vo" / "f")
        with pytest.raises(ChecksumMismatch) as info:
            se.get("/vo/f", out / "copy")
    assert info.value.expected == adler32_file(source)  # type: ignore[attr-defined]
    assert list(out.iterdir()) == []


def test_reads_what_the_file_driver_wrote_and_the_other_way_round(file_base: Path, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.write_bytes(b"shared file system")
    direct = FileStorage(file_base)
    with Gfal2Storage(base_url=f"file://{file_base}", checksum_xattr=DEFAULT_CHECKSUM_XATTR) as through_gfal2:
        direct.put(source, "/a")
        assert through_gfal2.stat("/a").checksum == adler32_file(source)
        corrupt(file_base / "a")
        with pytest.raises(ChecksumMismatch):
            through_gfal2.get("/a", tmp_path / "x")
        through_gfal2.put(source, "/b")
    assert direct.stat("/b").checksum == adler32_file(source)
    assert direct.get("/b", tmp_path / "y").checksum == adler32_file(source)


def test_missing_things(file_base: Path, tmp_path: Path) -> None:
    (file_base / "file").write_bytes(b"x")
    with Gfal2Storage(base_url=f"file://{file_base}") as se:
        with pytest.raises(NotFound):
            se.stat("/none")
        with pytest.raises(NotFound):
            se.get("/none", tmp_path / "dest")
        with pytest.raises(NotFound):
            se.listdir("/none")
        with pytest.raises(StorageError, match="ot a directory"):
            se.listdir("/file")
        se.remove("/none")
        (file_base / "dir").mkdir()
        with pytest.raises(StorageError, match="directory"):
            se.get("/dir", tmp_path / "dest")
        with pytest.raises(StorageError):
            se.remove("/dir")
    assert not (tmp_path / "dest").exists()


@pytest.mark.parametrize("path", ["/../x", "/vo/../../x", "x", "/vo/./f"])
def test_paths_leaving_the_base_are_refused_before_any_io(gfal2_module: ModuleType, path: str,
                                                          tmp_path: Path) -> None:
    base = tmp_path / "se"  # never created: any I/O through gfal2 would fail differently
    source = tmp_path / "src"
    source.write_bytes(b"x")
    with Gfal2Storage(base_url=f"file://{base}") as se:
        for call in (lambda: se.put(source, path), lambda: se.get(path, tmp_path / "out" / "f"),
                     lambda: se.stat(path), lambda: se.remove(path), lambda: se.listdir(path)):
            with pytest.raises(StorageError, match="storage path"):
                call()
    assert not base.exists()
    assert not (tmp_path / "out").exists()


def test_an_unreadable_source_is_a_storage_error(file_base: Path, tmp_path: Path) -> None:
    with Gfal2Storage(base_url=f"file://{file_base}") as se, pytest.raises(StorageError, match="local file"):
        se.put(tmp_path / "missing", "/f")


def test_from_section() -> None:
    def base(**fields: object) -> str:
        return Gfal2Storage.from_section(Gfal2Protocol(**fields)).base_url  # type: ignore[arg-type]

    assert base(protocol="root", host="xrd.example.org", port=1094, path="/data") == \
        "root://xrd.example.org:1094//data"
    assert base(protocol="davs", host="dav.example.org", port=443, path="/dpm/vo") == \
        "davs://dav.example.org:443/dpm/vo"
    srm = base(protocol="srm", host="srm.example.org", port=8446, path="/pnfs/vo", wsurl="/srm/managerv2")
    assert srm == "srm://srm.example.org:8446/srm/managerv2?SFN=/pnfs/vo"
    assert base(protocol="file", path="/mnt/se") == "file:///mnt/se"
    se = Gfal2Storage.from_section(Gfal2Protocol(protocol="file", path="/mnt/se", options={
        "checksum_xattr": "user.storm.checksum.adler32", "transfer_timeout": 60}))
    assert (se.checksum_xattr, se.transfer_timeout, se.scheme) == ("user.storm.checksum.adler32", 60, "file")
    with pytest.raises(ConfigError) as info:
        Gfal2Storage.from_section(Gfal2Protocol(protocol="root", options={
            "transfer_timeout": "1h", "x": 1, "checksum_xattr": "user.a"}))
    problems = {p for p, _ in info.value.problems}
    assert problems == {"options.transfer_timeout", "options.x", "options.checksum_xattr"}
    with pytest.raises(ValueError, match="file://"):
        Gfal2Storage(base_url="root://h//data", checksum_xattr="user.a")
    with pytest.raises(PluginError, match="Gfal2Protocol"):
        Gfal2Storage.from_section(FileProtocol(path="/x"))


def test_missing_bindings_name_the_debian_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "gfal2", None)  # as if no gfal2 were importable
    se = Gfal2Storage(base_url="file:///tmp", search_dirs=[str(tmp_path)])
    with pytest.raises(PluginUnavailable) as info:
        se.stat("/f")
    assert "python3-gfal2" in "".join(info.value.__notes__)
    assert info.value.extra == "gfal2"


def test_the_bindings_load_without_touching_sys_path(gfal2_module: ModuleType) -> None:
    assert str(gfal2_module.__file__).endswith(".so")
    assert "/usr/lib/python3/dist-packages" not in sys.path


def test_checksum_of_a_known_payload(file_base: Path, tmp_path: Path) -> None:
    source = tmp_path / "small"
    source.write_bytes(b"hello\n")  # gfal2's file plugin prints "84b021f": the driver pads it
    with Gfal2Storage(base_url=f"file://{file_base}") as se:
        se.put(source, "/h")
        assert se.stat("/h").checksum == adler32_bytes(b"hello\n") == "084b021f"

"""RootStorage against a real XRootD server (Debian's xrootd-server, run by the xrootd_server fixture)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from dirac_core.checksums import adler32_file
from dirac_core.config.sections import FileProtocol, RootProtocol
from dirac_core.errors import ChecksumMismatch, ConfigError, NotFound, PluginError, StorageError
from dirac_core.plugins.storage import Stageable
from dirac_core.testing.conformance import StorageProtocolSuite
from dirac_core.testing.xrootd import XRootDServer
from dirac_plugins_se.root import RootStorage


def _private_base() -> str:
    return f"/t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def root_driver(xrootd_server: XRootDServer) -> Iterator[RootStorage]:
    """A driver writing under a fresh base directory; small chunks so transfers take several."""
    with RootStorage(xrootd_server.host, port=xrootd_server.root_port, base_path=_private_base(),
                     chunk_size=4096) as driver:
        yield driver


class TestRootStorageConformance(StorageProtocolSuite):
    capabilities: ClassVar[frozenset[str]] = frozenset({"checksum", "third_party_copy"})

    @pytest.fixture
    def driver(self, root_driver: RootStorage) -> RootStorage:
        return root_driver


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    source = tmp_path / "payload.bin"
    source.write_bytes(os.urandom(50_000))
    return source


def _corrupt_keeping_mtime(local: Path) -> None:
    """Flip one byte in place and restore the times: silent corruption the server cannot see."""
    before = local.stat()
    with local.open("r+b") as fh:
        fh.seek(1234)
        byte = fh.read(1)
        fh.seek(1234)
        fh.write(bytes([byte[0] ^ 0xFF]))
    os.utime(local, ns=(before.st_atime_ns, before.st_mtime_ns))


def test_url_has_the_double_slash_of_xrootd(xrootd_server: XRootDServer) -> None:
    driver = RootStorage("se.example.org", port=1095, base_path="/data")
    assert driver.url("/vo/f") == "root://se.example.org:1095//data/vo/f"
    with pytest.raises(StorageError):
        driver.url("/vo/../etc")


def test_put_writes_where_the_server_keeps_its_files(root_driver: RootStorage, payload: Path,
                                                     xrootd_server: XRootDServer) -> None:
    stat = root_driver.put(payload, "/vo/run/f.bin")
    stored = xrootd_server.local_path(f"{root_driver.base_path}/vo/run/f.bin")
    assert stored.read_bytes() == payload.read_bytes()
    assert stat.checksum == adler32_file(payload) == root_driver.remote_checksum("/vo/run/f.bin")


def test_get_of_a_file_corrupted_behind_the_servers_back(root_driver: RootStorage, payload: Path,
                                                         xrootd_server: XRootDServer, tmp_path: Path) -> None:
    root_driver.put(payload, "/vo/rot/f")
    _corrupt_keeping_mtime(xrootd_server.local_path(f"{root_driver.base_path}/vo/rot/f"))
    destination = tmp_path / "out" / "f"
    with pytest.raises(ChecksumMismatch) as caught:
        root_driver.get("/vo/rot/f", destination)
    assert caught.value.url == root_driver.url("/vo/rot/f")
    assert caught.value.expected == adler32_file(payload)
    assert caught.value.actual != caught.value.expected
    assert not destination.exists()
    assert not list(destination.parent.iterdir())  # no partial file left


def test_failed_get_leaves_an_existing_destination_alone(root_driver: RootStorage, tmp_path: Path) -> None:
    destination = tmp_path / "keep"
    destination.write_bytes(b"mine")
    with pytest.raises(NotFound):
        root_driver.get("/vo/none", destination)
    assert destination.read_bytes() == b"mine"


def test_put_mismatch_removes_the_bad_copy(root_driver: RootStorage, payload: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(root_driver, "remote_checksum", lambda path: "deadbeef")
    with pytest.raises(ChecksumMismatch) as caught:
        root_driver.put(payload, "/vo/bad/f")
    assert caught.value.expected == adler32_file(payload)
    assert caught.value.actual == "deadbeef"
    monkeypatch.undo()
    assert not root_driver.exists("/vo/bad/f")


def test_upload_cut_short_leaves_no_partial_copy(root_driver: RootStorage, payload: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import zlib

    from dirac_plugins_se import root as root_module

    calls = []

    class FailingSecondRead:
        @staticmethod
        def adler32(data: bytes, value: int) -> int:
            calls.append(len(data))
            if len(calls) == 2:
                raise OSError(5, "Input/output error")
            return zlib.adler32(data, value)

    monkeypatch.setattr(root_module, "zlib", FailingSecondRead)
    with pytest.raises(StorageError, match="Input/output error") as caught:
        root_driver.put(payload, "/vo/cut/f")
    assert caught.value.url == root_driver.url("/vo/cut/f")
    assert not root_driver.exists("/vo/cut/f")


def test_not_found_everywhere(root_driver: RootStorage, tmp_path: Path) -> None:
    for call in (lambda: root_driver.stat("/no/f"), lambda: root_driver.listdir("/no"),
                 lambda: root_driver.get("/no/f", tmp_path / "x"),
                 lambda: root_driver.remote_checksum("/no/f")):
        with pytest.raises(NotFound) as caught:
            call()
        assert caught.value.url.startswith(root_driver.endpoint)


def test_server_refusals_are_storage_errors_with_the_url(root_driver: RootStorage, payload: Path) -> None:
    root_driver.put(payload, "/vo/d/f")
    with pytest.raises(StorageError, match="not a directory") as listed:
        root_driver.listdir("/vo/d/f")
    assert listed.value.url == root_driver.url("/vo/d/f")
    with pytest.raises(StorageError, match="is a directory") as written:
        root_driver.put(payload, "/vo/d")
    assert written.value.url == root_driver.url("/vo/d")
    assert root_driver.stat("/vo/d").is_dir
    with pytest.raises(StorageError, match="not empty") as removed:
        root_driver.remove("/vo/d")
    assert removed.value.errno == 3005
    assert not isinstance(removed.value, NotFound)


def test_unreadable_source(root_driver: RootStorage, tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="cannot read local file") as caught:
        root_driver.put(tmp_path / "absent", "/vo/f")
    assert caught.value.url == root_driver.url("/vo/f")


def test_unreachable_port_fails_fast() -> None:
    from dirac_core.testing._daemons import free_port

    driver = RootStorage("localhost", port=free_port(), connect_timeout=2)
    with pytest.raises(StorageError, match="unreachable") as caught:
        driver.stat("/vo/f")
    assert caught.value.url == driver.url("/vo/f")
    assert caught.value.port == driver.port


_GOING_AWAY = """
import sys
from pathlib import Path
from dirac_core.errors import StorageError
from dirac_plugins_se.root import RootStorage
driver = RootStorage("localhost", port=int(sys.argv[1]), timeout=2)
driver.put(Path(sys.argv[2]), "/f")
print("written", flush=True)
sys.stdin.readline()
try:
    driver.stat("/f")
except StorageError as exc:
    print(exc)
"""


def test_server_going_away_is_reported_unreachable(tmp_path: Path, payload: Path) -> None:
    from dirac_core.testing.xrootd import xrootd_server

    # XRootD reads its timeout resolution (15 s by default) once per process: use a fresh one
    env = {**os.environ, "XRD_TIMEOUTRESOLUTION": "1"}
    with xrootd_server(tmp_path / "own") as server:
        client = subprocess.Popen([sys.executable, "-c", _GOING_AWAY, str(server.root_port), str(payload)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        assert client.stdout is not None
        assert client.stdout.readline().strip() == "written"
    out, _ = client.communicate("go\n", timeout=60)
    assert "unreachable" in out
    assert f"localhost:{server.root_port}" in out


def test_stageable_on_a_disk_server(root_driver: RootStorage, payload: Path) -> None:
    assert isinstance(root_driver, Stageable)
    root_driver.put(payload, "/vo/tape/f")
    assert root_driver.is_online("/vo/tape/f") is True
    root_driver.prepare(["/vo/tape/f"])  # xrootd accepts a prestage even with no tape behind it
    root_driver.prepare([])
    with pytest.raises(NotFound):
        root_driver.is_online("/vo/tape/none")


def test_from_section() -> None:
    driver = RootStorage.from_section(RootProtocol(host="se.example.org", port=1096, path="/data",
                                                   options={"timeout": 30, "chunk_size": 1 << 20}))
    assert (driver.host, driver.port, driver.base_path) == ("se.example.org", 1096, "/data")
    assert (driver.timeout, driver.chunk_size) == (30, 1 << 20)
    assert RootStorage.from_section(RootProtocol(host="h")).port == 1094


def test_from_section_refuses_bad_input() -> None:
    with pytest.raises(PluginError):
        RootStorage.from_section(FileProtocol(path="/data"))
    with pytest.raises(ConfigError) as caught:
        RootStorage.from_section(RootProtocol(options={"chunk_size": "big", "colour": "red"}))
    paths = [path for path, _ in caught.value.problems]
    assert paths == ["options.colour", "host", "options.chunk_size"]
    with pytest.raises(ConfigError):
        RootStorage.from_section(RootProtocol(host="h", path="/a/../b"))


def test_module_imports_without_the_bindings_and_says_which_extra() -> None:
    code = ("import sys; sys.modules['XRootD'] = None\n"
            "from dirac_plugins_se.root import RootStorage\n"
            "from dirac_core.errors import PluginUnavailable\n"
            "try:\n    RootStorage('localhost', port=1).stat('/f')\n"
            "except PluginUnavailable as exc:\n    print(exc.extra)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "xrootd"

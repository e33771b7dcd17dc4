"""The gfal2 storage driver over ``root://`` and ``davs://`` against a real XRootD server.

gfal2-plugin-xrootd and gfal2-plugin-http (davix) talk to the server of
:mod:`dirac_core.testing.xrootd`; the server computes adler32 checksums and
caches them per file, so bytes changed behind its back (modification time
kept, as bit rot would) are caught by the verification of a download.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from dirac_core.checksums import adler32_file
from dirac_core.errors import ChecksumMismatch, NotFound, PluginUnavailable, StorageError
from dirac_core.plugins.storage import StorageProtocol
from dirac_core.testing._daemons import free_port
from dirac_core.testing.conformance import StorageProtocolSuite
from dirac_core.testing.databases import skip_or_fail
from dirac_core.testing.xrootd import XRootDServer
from dirac_plugins_se._gfal2_import import import_gfal2
from dirac_plugins_se.gfal2 import Gfal2Storage


@pytest.fixture(scope="module")
def gfal2_plugins() -> ModuleType:
    """The gfal2 bindings with the xrootd and http plugins (skipped, or failed in CI, when missing)."""
    try:
        module = import_gfal2()
    except PluginUnavailable as exc:
        skip_or_fail(f"gfal2 unavailable: {exc}")
    context = module.creat_context()
    plugins = context.get_plugin_names()
    context.free()
    for prefix, package in (("xrootd-", "gfal2-plugin-xrootd"), ("http-", "gfal2-plugin-http")):
        if not any(name.startswith(prefix) for name in plugins):
            skip_or_fail(f"gfal2's {prefix[:-1]} plugin (Debian: {package}) is missing; found {plugins}")
    return module


@pytest.fixture(scope="module")
def ca_dir(xrootd_server: XRootDServer, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A hashed CA folder (as /etc/grid-security/certificates) trusting the server's test CA."""
    folder = tmp_path_factory.mktemp("grid-ca")
    done = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", str(xrootd_server.ca_file)],
                          capture_output=True, text=True, check=True)
    shutil.copyfile(xrootd_server.ca_file, folder / f"{done.stdout.strip()}.0")
    return folder


@pytest.fixture
def davs_trust(ca_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # gfal2's http plugin takes its CA folder from X509_CERT_DIR only (no gfal2 option exists)
    monkeypatch.setenv("X509_CERT_DIR", str(ca_dir))


def base_url(server: XRootDServer, protocol: str, folder: str) -> str:
    """The URL of ``/<folder>`` on the server in ``protocol`` (root or davs)."""
    if protocol == "root":
        return f"{server.root_url}//{folder}"
    return f"davs://{server.host}:{server.https_port}/{folder}"


def root_base(server: XRootDServer) -> str:
    return base_url(server, "root", f"t-{secrets.token_hex(6)}")


def davs_base(server: XRootDServer) -> str:
    return base_url(server, "davs", f"t-{secrets.token_hex(6)}")


class TestGfal2RootConformance(StorageProtocolSuite):
    capabilities = frozenset({"checksum", "third_party_copy"})

    @pytest.fixture
    def driver(self, gfal2_plugins: ModuleType, xrootd_server: XRootDServer) -> Iterator[StorageProtocol]:
        with Gfal2Storage(base_url=root_base(xrootd_server)) as driver:
            yield driver


class TestGfal2DavsConformance(StorageProtocolSuite):
    capabilities = frozenset({"checksum", "third_party_copy"})

    @pytest.fixture
    def driver(self, gfal2_plugins: ModuleType, xrootd_server: XRootDServer,
               davs_trust: None) -> Iterator[StorageProtocol]:
        with Gfal2Storage(base_url=davs_base(xrootd_server)) as driver:
            yield driver


def corrupt_behind_the_server(path: Path) -> None:
    """Change one byte in place keeping the modification time: the server's cached checksum goes stale."""
    before = path.stat()
    with path.open("r+b") as fh:
        first = fh.read(1)
        fh.seek(0)
        fh.write(bytes([first[0] ^ 0xFF]))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))


@pytest.mark.usefixtures("gfal2_plugins", "davs_trust")
@pytest.mark.parametrize("protocol", ["root", "davs"])
def test_corruption_at_rest_is_refused_without_partial_file(xrootd_server: XRootDServer, tmp_path: Path,
                                                           protocol: str) -> None:
    folder = f"t-{secrets.token_hex(6)}"
    source = tmp_path / "src"
    source.write_bytes(bytes(range(256)) * 64)
    out = tmp_path / "out"
    out.mkdir()
    with Gfal2Storage(base_url=base_url(xrootd_server, protocol, folder)) as se:
        put = se.put(source, "/vo/f")
        assert se.stat("/vo/f").checksum == put.checksum == adler32_file(source)  # the server's answer
        stored = xrootd_server.local_path(f"/{folder}/vo/f")
        assert stored.read_bytes() == source.read_bytes()
        corrupt_behind_the_server(stored)
        with pytest.raises(ChecksumMismatch) as info:
            se.get("/vo/f", out / "copy")
    assert info.value.expected == adler32_file(source)  # type: ignore[attr-defined]
    assert list(out.iterdir()) == []


@pytest.mark.usefixtures("gfal2_plugins")
def test_missing_files_over_root(xrootd_server: XRootDServer, tmp_path: Path) -> None:
    with Gfal2Storage(base_url=root_base(xrootd_server)) as se:
        with pytest.raises(NotFound):
            se.get("/none", tmp_path / "x")
        with pytest.raises(NotFound):
            se.listdir("/none")
        se.remove("/none")
    assert not (tmp_path / "x").exists()


@pytest.mark.usefixtures("gfal2_plugins")
def test_an_unreachable_davs_endpoint_says_so(tmp_path: Path) -> None:
    with Gfal2Storage(base_url=f"davs://127.0.0.1:{free_port()}/data") as se, \
            pytest.raises(StorageError, match="unreachable") as info:
        se.stat("/f")
    assert not isinstance(info.value, NotFound)


@pytest.mark.usefixtures("gfal2_plugins")
def test_an_untrusted_server_certificate_is_named(xrootd_server: XRootDServer,
                                                   monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("X509_CERT_DIR", str(tmp_path))  # an empty folder: no CA trusted
    with Gfal2Storage(base_url=davs_base(xrootd_server)) as se, \
            pytest.raises(StorageError, match="certificate") as info:
        se.stat("/f")
    assert "unreachable" not in str(info.value)

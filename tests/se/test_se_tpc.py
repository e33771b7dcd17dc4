"""Third-party copy in the drivers, beyond the conformance suite: gfal2's copies are made by the
servers, the answers of an HTTP ``COPY``, S3 copies in parts and between buckets, the settings.

The conformance suites (``third_party_copy`` capability) check that each driver copies from its own
URLs; the data manager's tests (tests/dms) check replication through them.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from dirac_core.checksums import adler32_file
from dirac_core.config.sections import Gfal2Protocol
from dirac_core.errors import ConfigError, NotFound, PluginUnavailable, StorageError
from dirac_core.testing.databases import skip_or_fail
from dirac_core.testing.s3 import S3Server
from dirac_core.testing.xrootd import XRootDServer
from dirac_plugins_se._gfal2_import import import_gfal2
from dirac_plugins_se._webdav import tpc_outcome
from dirac_plugins_se.gfal2 import Gfal2Storage
from dirac_plugins_se.https import DavsStorage
from dirac_plugins_se.s3 import S3Storage

MIB = 1 << 20


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    path = tmp_path / "payload.bin"
    path.write_bytes(os.urandom(200_000))
    return path


def _logged(server: XRootDServer, *parts: str) -> bool:
    return any(all(part in line for part in parts) for line in server.log_path.read_text().splitlines())


# -- gfal2: the servers move the bytes ------------------------------------------------------------


@pytest.fixture(scope="module")
def gfal2_module() -> ModuleType:
    try:
        return import_gfal2()
    except PluginUnavailable as exc:
        skip_or_fail(f"gfal2 unavailable: {exc}")


@pytest.fixture
def tpc_server(xrootd_server: XRootDServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> XRootDServer:
    """The XRootD server, with its CA trusted by gfal2's http plugin (only ``X509_CERT_DIR`` sets it)."""
    if not xrootd_server.third_party_copy:
        skip_or_fail("no third-party copy on the XRootD test server: xrdcp (Debian xrootd-client) is missing")
    done = subprocess.run(["openssl", "x509", "-hash", "-noout", "-in", str(xrootd_server.ca_file)],
                          capture_output=True, text=True, check=True)
    (tmp_path / "ca").mkdir()
    shutil.copyfile(xrootd_server.ca_file, tmp_path / "ca" / f"{done.stdout.strip()}.0")
    monkeypatch.setenv("X509_CERT_DIR", str(tmp_path / "ca"))
    return xrootd_server


@pytest.mark.usefixtures("gfal2_module")
def test_gfal2_root_copy_is_pulled_by_the_server(tpc_server: XRootDServer, payload: Path) -> None:
    base = f"/t-{secrets.token_hex(6)}"
    with Gfal2Storage(base_url=f"{tpc_server.root_url}/{base}") as gfal2:
        gfal2.put(payload, "/vo/f")
        assert gfal2.can_copy_from(gfal2.url("/vo/f"))
        assert not gfal2.can_copy_from(f"https://{tpc_server.host}:{tpc_server.https_port}{base}/vo/f")
        copied = gfal2.copy_from(gfal2.url("/vo/f"), "/vo/copy")
    assert (copied.size, copied.checksum) == (payload.stat().st_size, adler32_file(payload))
    assert tpc_server.local_path(f"{base}/vo/copy").read_bytes() == payload.read_bytes()
    assert _logged(tpc_server, "granted tpc access", f"to {base}/vo/f")


@pytest.mark.usefixtures("gfal2_module")
def test_gfal2_davs_copy_is_pulled_by_the_server(tpc_server: XRootDServer, payload: Path) -> None:
    base = f"/t-{secrets.token_hex(6)}"
    with Gfal2Storage(base_url=f"davs://{tpc_server.host}:{tpc_server.https_port}{base}") as gfal2:
        gfal2.put(payload, "/vo/f")
        assert not gfal2.can_copy_from(f"{tpc_server.root_url}/{base}/vo/f")  # gfal2 would stream it
        copied = gfal2.copy_from(gfal2.url("/vo/f"), "/vo/copy")
    assert (copied.size, copied.checksum) == (payload.stat().st_size, adler32_file(payload))
    assert tpc_server.local_path(f"{base}/vo/copy").read_bytes() == payload.read_bytes()
    assert _logged(tpc_server, "event=PULL_START", f"local={base}/vo/copy")


def test_gfal2_copies_delegate_no_credential_unless_told() -> None:
    plain = Gfal2Storage(base_url="davs://se.example.org/data",
                         context_options={("HTTP PLUGIN", "HEADERS"): "X-Site: here"})
    options = plain._tpc_options()
    assert options[("HTTP PLUGIN", "HEADERS")] == ["X-Site: here", "Credential: none"]
    assert options[("HTTP PLUGIN", "ENABLE_STREAM_COPY")] is False
    assert options[("HTTP PLUGIN", "ENABLE_FALLBACK_TPC_COPY")] is False
    delegating = Gfal2Storage.from_section(Gfal2Protocol(protocol="davs", host="se.example.org",
                                                         options={"tpc_delegation": True}))
    assert delegating.tpc_delegation is True
    assert ("HTTP PLUGIN", "HEADERS") not in delegating._tpc_options()
    with pytest.raises(ConfigError) as caught:
        Gfal2Storage.from_section(Gfal2Protocol(protocol="davs", host="h", options={"tpc_delegation": "yes"}))
    assert [path for path, _ in caught.value.problems] == ["options.tpc_delegation"]
    assert not Gfal2Storage(base_url="file:///data").can_copy_from("root://h//data/f")


# -- HTTP: what the answer to a COPY says ---------------------------------------------------------


def test_the_outcome_is_the_last_line_after_the_markers() -> None:
    markers = ["Perf Marker", "Timestamp: 1", "Stripe Bytes Transferred: 0", "End"]
    assert tpc_outcome([*markers, "success: Created", ""]) == "success: Created"
    assert tpc_outcome([*markers, "failure: Couldn't connect to server"]).startswith("failure:")
    assert tpc_outcome(markers) == ""
    assert tpc_outcome([]) == ""


class _CopyServer:
    """A WebDAV server that answers every COPY with ``status`` and ``lines``, and remembers requests."""

    def __init__(self, status: int, lines: list[str]) -> None:
        self.status, self.lines = status, lines
        self.seen: list[tuple[str, str, httpx.Headers]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, request.url.path, request.headers))
        if request.method == "PROPFIND":
            return httpx.Response(404)
        if request.method == "MKCOL":
            return httpx.Response(405)
        if request.method == "COPY":
            return httpx.Response(self.status, content="\n".join(self.lines).encode())
        return httpx.Response(204)


def _davs(server: _CopyServer) -> DavsStorage:
    return DavsStorage("se.example.org", base_path="/data", transport=httpx.MockTransport(server))


@pytest.mark.parametrize(("status", "last", "error", "says"), [
    (201, "failure: Remote side failed with status code 404; error message: gone", NotFound, "no file"),
    (201, "failure: Couldn't connect to server", StorageError, "Couldn't connect"),
    (202, "End", StorageError, "ended without saying how"),
    (403, "not for you", StorageError, "HTTP 403"),
])
def test_a_failed_copy_raises_and_leaves_nothing(status: int, last: str, error: type[Exception],
                                                 says: str) -> None:
    server = _CopyServer(status, ["Perf Marker", "End", last])
    with pytest.raises(error, match=says) as caught:
        _davs(server).copy_from("davs://other.example.org:8443/store/vo/f", "/vo/copy")
    assert isinstance(caught.value, NotFound) == (error is NotFound)
    methods = [(method, path) for method, path, _ in server.seen]
    assert methods[-2:] == [("COPY", "/data/vo/copy"), ("DELETE", "/data/vo/copy")]
    headers = next(h for method, _, h in server.seen if method == "COPY")
    assert headers["Source"] == "https://other.example.org:8443/store/vo/f"
    assert (headers["Credential"], headers["X-No-Delegate"]) == ("none", "true")


def test_only_https_and_davs_sources_are_pulled() -> None:
    driver = _davs(_CopyServer(201, ["success: Created"]))
    assert driver.can_copy_from("https://a/f") and driver.can_copy_from("davs://a/f")
    assert not driver.can_copy_from("root://a//f") and not driver.can_copy_from("http://a/f")
    with pytest.raises(StorageError, match="not an https or davs URL"):
        driver.copy_from("root://a//f", "/vo/copy")


# -- S3: copies in parts, and only within the bucket ----------------------------------------------


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    return s3_server


def _s3(server: S3Server, prefix: str, **options: int) -> S3Storage:
    return S3Storage(bucket=server.bucket, prefix=prefix, region=server.region,
                     endpoint_url=server.endpoint_url, **options)


def test_s3_copies_big_objects_in_parts_keeping_the_checksum(s3_env: S3Server, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(11 * MIB))
    base = f"t-{secrets.token_hex(6)}"
    with _s3(s3_env, f"{base}/one") as source, \
            _s3(s3_env, f"{base}/two", multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB) as target:
        source.put(big, "/vo/f")
        copied = target.copy_from(source.url("/vo/f"), "/vo/copy")
        assert (copied.size, copied.checksum) == (11 * MIB, adler32_file(big))
        head = s3_env.client().head_object(Bucket=s3_env.bucket, Key=f"{base}/two/vo/copy")
        assert head["ETag"].strip('"').endswith("-3")  # three parts: UploadPartCopy, not one CopyObject
        assert head["Metadata"] == {"adler32": adler32_file(big)}
        back = tmp_path / "back.bin"
        target.get("/vo/copy", back)  # verified against the copied checksum
        assert back.read_bytes() == big.read_bytes()


def test_s3_refuses_other_buckets_and_missing_sources(s3_env: S3Server) -> None:
    base = f"t-{secrets.token_hex(6)}"
    with _s3(s3_env, base) as driver:
        assert not driver.can_copy_from(f"s3://another-bucket/{base}/vo/f")
        assert not driver.can_copy_from(f"s3://{s3_env.bucket}")
        with pytest.raises(StorageError, match="inside S3 bucket"):
            driver.copy_from(f"s3://another-bucket/{base}/vo/f", "/vo/copy")
        with pytest.raises(NotFound) as caught:
            driver.copy_from(driver.url("/vo/none"), "/vo/copy")
        assert caught.value.url == driver.url("/vo/none")
        assert not driver.exists("/vo/copy")

"""The S3 storage driver against a real S3 endpoint (moto's standalone server on loopback)."""

from __future__ import annotations

import importlib.util
import secrets
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from dirac_core.checksums import adler32_bytes, adler32_file
from dirac_core.config.sections import FileProtocol, S3Protocol
from dirac_core.errors import ChecksumMismatch, ConfigError, NotFound, PluginError, StorageError
from dirac_core.plugins.storage import StorageProtocol
from dirac_core.testing import s3 as s3_harness
from dirac_core.testing._daemons import free_port
from dirac_core.testing.conformance import StorageProtocolSuite
from dirac_core.testing.databases import skip_or_fail
from dirac_core.testing.s3 import S3Server, moto_missing
from dirac_plugins_se.s3 import S3Storage

MIB = 1 << 20


@pytest.fixture
def s3_env(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """The server, with its credentials in the environment where boto3 looks for them."""
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    return s3_server


@pytest.fixture
def s3(s3_env: S3Server) -> Iterator[S3Storage]:
    """A driver writing under a key prefix of its own in the session's bucket."""
    with S3Storage(bucket=s3_env.bucket, prefix=f"t-{secrets.token_hex(6)}", region=s3_env.region,
                   endpoint_url=s3_env.endpoint_url) as driver:
        yield driver


@pytest.fixture
def boto3_installed() -> None:
    if importlib.util.find_spec("boto3") is None:
        skip_or_fail("boto3 (the s3 extra) is not installed")


class TestS3StorageConformance(StorageProtocolSuite):
    capabilities = frozenset({"checksum", "third_party_copy"})

    @pytest.fixture
    def driver(self, s3: S3Storage) -> StorageProtocol:
        return s3


def test_checksum_is_object_metadata(s3: S3Storage, s3_env: S3Server, tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.write_bytes(b"some bytes" * 100)
    s3.put(source, "/vo/f")
    head = s3_env.client().head_object(Bucket=s3.bucket, Key=f"{s3.prefix}/vo/f")
    assert head["Metadata"] == {"adler32": adler32_file(source)}
    assert head["ResponseMetadata"]["HTTPHeaders"]["x-amz-meta-adler32"] == adler32_file(source)
    assert s3.url("/vo/f") == f"s3://{s3.bucket}/{s3.prefix}/vo/f"


def test_big_files_go_up_in_parts(s3_env: S3Server, tmp_path: Path) -> None:
    source = tmp_path / "big"
    block = secrets.token_bytes(MIB)
    source.write_bytes(block * 11 + b"tail")
    with S3Storage(bucket=s3_env.bucket, prefix=f"t-{secrets.token_hex(6)}", endpoint_url=s3_env.endpoint_url,
                   region=s3_env.region, multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB) as se:
        put = se.put(source, "/vo/big")
        head = s3_env.client().head_object(Bucket=se.bucket, Key=f"{se.prefix}/vo/big")
        assert head["ETag"].strip('"').endswith("-3")  # three parts
        assert put.checksum == adler32_file(source) == se.stat("/vo/big").checksum
        got = se.get("/vo/big", tmp_path / "back")
    assert got == put
    assert (tmp_path / "back").read_bytes() == source.read_bytes()


def test_corruption_at_rest_is_refused_without_partial_file(s3: S3Storage, s3_env: S3Server,
                                                           tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.write_bytes(b"the original content")
    s3.put(source, "/vo/f")
    # behind the driver's back: other bytes under the same key, the old checksum still attached
    s3_env.client().put_object(Bucket=s3.bucket, Key=f"{s3.prefix}/vo/f", Body=b"the corrupted content",
                               Metadata={"adler32": adler32_file(source)})
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ChecksumMismatch) as info:
        s3.get("/vo/f", out / "copy")
    assert info.value.expected == adler32_file(source)  # type: ignore[attr-defined]
    assert info.value.actual == adler32_bytes(b"the corrupted content")  # type: ignore[attr-defined]
    assert list(out.iterdir()) == []


def test_objects_of_other_tools_are_read_unverified(s3: S3Storage, s3_env: S3Server, tmp_path: Path) -> None:
    s3_env.client().put_object(Bucket=s3.bucket, Key=f"{s3.prefix}/foreign", Body=b"no metadata")
    assert s3.stat("/foreign").checksum is None
    got = s3.get("/foreign", tmp_path / "copy")
    assert got.checksum == adler32_bytes(b"no metadata")
    assert (tmp_path / "copy").read_bytes() == b"no metadata"


def test_missing_objects(s3: S3Storage, tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        s3.stat("/vo/none")
    with pytest.raises(NotFound):
        s3.get("/vo/none", tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
    with pytest.raises(NotFound):
        s3.listdir("/vo")
    with pytest.raises(NotFound):
        s3.stat("/")  # nothing stored under this driver's prefix yet
    s3.remove("/vo/none")


def test_a_missing_bucket_is_named(s3_env: S3Server, tmp_path: Path) -> None:
    with S3Storage(bucket="no-such-bucket", endpoint_url=s3_env.endpoint_url, region=s3_env.region) as se:
        with pytest.raises(StorageError, match="bucket 'no-such-bucket' does not exist") as info:
            se.listdir("/")
        assert not isinstance(info.value, NotFound)
        source = tmp_path / "src"
        source.write_bytes(b"x")
        with pytest.raises(StorageError, match="does not exist"):
            se.put(source, "/f")


@pytest.mark.usefixtures("boto3_installed")
def test_an_unreachable_endpoint_says_so(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    endpoint = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    source = tmp_path / "src"
    source.write_bytes(b"x")
    with S3Storage(bucket="b", endpoint_url=endpoint, region="us-east-1", max_attempts=1,
                   connect_timeout=2) as se:
        for call in (lambda: se.stat("/f"), lambda: se.get("/f", tmp_path / "d"), lambda: se.listdir("/"),
                     lambda: se.put(source, "/f"), lambda: se.remove("/f")):
            with pytest.raises(StorageError, match="unreachable") as info:
                call()
            assert not isinstance(info.value, NotFound)
            assert endpoint in str(info.value)


@pytest.mark.usefixtures("boto3_installed")
def test_missing_credentials_are_a_storage_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with S3Storage(bucket="b", endpoint_url=f"http://127.0.0.1:{free_port()}", region="us-east-1") as se, \
            pytest.raises(StorageError, match="credentials"):
        se.stat("/f")


@pytest.mark.parametrize("path", ["/../x", "/vo/../../x", "x", "/vo/\x00"])
def test_bad_paths_are_refused_before_any_request(path: str, tmp_path: Path) -> None:
    # the endpoint does not exist: reaching it would say "unreachable", not "storage path"
    se = S3Storage(bucket="b", endpoint_url=f"http://127.0.0.1:{free_port()}", max_attempts=1)
    source = tmp_path / "src"
    source.write_bytes(b"x")
    for call in (lambda: se.put(source, path), lambda: se.get(path, tmp_path / "d"), lambda: se.stat(path),
                 lambda: se.remove(path), lambda: se.listdir(path), lambda: se.url(path)):
        with pytest.raises(StorageError, match="storage path"):
            call()
    assert not (tmp_path / "d").exists()


def test_from_section() -> None:
    section = S3Protocol(bucket="data", path="/grid/se1/", region="eu-west-1",
                         endpoint_url="https://s3.example.org",
                         options={"multipart_threshold": 5 * MIB, "addressing_style": "path"})
    se = S3Storage.from_section(section)
    assert (se.bucket, se.prefix, se.region, se.endpoint_url) == ("data", "grid/se1", "eu-west-1",
                                                                  "https://s3.example.org")
    assert se.multipart_threshold == 5 * MIB and se.addressing_style == "path"
    assert se.url("/vo/f") == "s3://data/grid/se1/vo/f"
    assert S3Storage.from_section(S3Protocol(bucket="data")).url("/vo/f") == "s3://data/vo/f"
    with pytest.raises(ConfigError) as info:
        S3Storage.from_section(S3Protocol(bucket="d", options={"max_attempts": 0, "secret": "no",
                                                               "addressing_style": 1}))
    assert {path for path, _ in info.value.problems} == {
        "options.max_attempts", "options.secret", "options.addressing_style"}
    with pytest.raises(PluginError, match="S3Protocol"):
        S3Storage.from_section(FileProtocol(path="/x"))
    with pytest.raises(ValueError, match="prefix"):
        S3Storage(bucket="b", prefix="a/../b")


def test_the_module_imports_without_boto3() -> None:
    script = textwrap.dedent("""
        import sys
        sys.modules["boto3"] = None  # as if boto3 were not installed
        sys.modules["botocore"] = None
        from dirac_core.errors import PluginUnavailable
        from dirac_plugins_se.s3 import S3Storage
        se = S3Storage(bucket="b")
        try:
            se.stat("/f")
        except PluginUnavailable as exc:
            print(exc.extra)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "s3"


@pytest.mark.usefixtures("boto3_installed")
def test_the_harness_serves_a_bucket_and_stops_its_server(tmp_path: Path) -> None:
    if moto_missing():
        skip_or_fail(f"S3 server unavailable: {moto_missing()}")
    with s3_harness.s3_server(tmp_path, bucket="harness-check") as server:
        names = [bucket["Name"] for bucket in server.client().list_buckets()["Buckets"]]
        assert names == ["harness-check"]
        assert server.endpoint_url.startswith("http://127.0.0.1:")
    port = int(server.endpoint_url.rsplit(":", 1)[1])
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0  # nothing listens any more

"""replicate_and_register between real servers: XRootD (root://, davs://) and S3 (moto), SQL catalog on
every backend.

The XRootD test servers allow third-party copy (``ofs.tpc``, ``libXrdHttpTPC``) and log each one:
the source server logs the grant it gives the destination of a ``root://`` copy, XrdHttp logs
the start of each pull, so the tests see that the servers moved the bytes. A server started
without third-party copy refuses it, and the file then goes by download and upload.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from tpc_helpers import LFN, Transfers, data_manager

from dirac_core.checksums import adler32_file
from dirac_core.db import Database
from dirac_core.dms.manager import DataManager
from dirac_core.dms.transfer import TransferMethod
from dirac_core.errors import ChecksumMismatch
from dirac_core.model.clock import FakeClock
from dirac_core.testing._daemons import ComponentUnavailable
from dirac_core.testing.databases import skip_or_fail
from dirac_core.testing.s3 import S3Server
from dirac_core.testing.xrootd import XRootDServer, xrootd_server


def _second_server(factory: pytest.TempPathFactory, name: str, *, tpc: bool) -> Iterator[XRootDServer]:
    with ExitStack() as stack:
        try:
            server = stack.enter_context(xrootd_server(factory.mktemp(name), third_party_copy=tpc))
        except ComponentUnavailable as exc:
            skip_or_fail(f"XRootD server unavailable: {exc}")
        yield server


@pytest.fixture(scope="module")
def other_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XRootDServer]:
    """A second XRootD server that allows third-party copy."""
    yield from _second_server(tmp_path_factory, "xrootd-other", tpc=True)


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XRootDServer]:
    """An XRootD server without third-party copy."""
    yield from _second_server(tmp_path_factory, "xrootd-plain", tpc=False)


@pytest.fixture
def server(xrootd_server: XRootDServer) -> XRootDServer:
    if not xrootd_server.third_party_copy:
        skip_or_fail("no third-party copy on the XRootD test server: xrdcp (Debian xrootd-client) is missing")
    return xrootd_server


@pytest.fixture
def payload(tmp_path: Path) -> Path:
    path = tmp_path / "payload.bin"
    path.write_bytes(os.urandom(300_000))
    return path


def _base() -> str:
    return f"/t-{secrets.token_hex(6)}"


def _root(server: XRootDServer, path: str) -> list[dict[str, Any]]:
    return [{"type": "root", "host": server.host, "port": server.root_port, "path": path}]


def _logged(server: XRootDServer, *parts: str) -> bool:
    return any(all(part in line for part in parts) for line in server.log_path.read_text().splitlines())


def _copied(manager: DataManager, transfers: Transfers, source: str, target: str) -> None:
    """The file was copied third-party from ``source`` to ``target`` and registered there."""
    stored = manager.replicate_and_register(LFN, target)
    assert (stored.method, stored.tpc_error, stored.registered) == (TransferMethod.THIRD_PARTY, None, True)
    assert manager.catalog.get_replicas([LFN]).ok[LFN] == {source, target}
    assert transfers.calls == [([LFN], source, target, True)]


def test_root_to_root_is_copied_by_the_server(database: Database, fake_clock: FakeClock, payload: Path,
                                              server: XRootDServer) -> None:
    base = _base()
    ses = {"SE-R1": _root(server, f"{base}/one"), "SE-R2": _root(server, f"{base}/two")}
    with data_manager(database, fake_clock, ses) as (manager, transfers):
        manager.put_and_register(LFN, payload, "SE-R1")
        _copied(manager, transfers, "SE-R1", "SE-R2")
    assert server.local_path(f"{base}/two{LFN}").read_bytes() == payload.read_bytes()
    assert _logged(server, "granted tpc access", f"to {base}/one{LFN}")  # the source let the server pull


def test_root_copy_between_two_servers(database: Database, fake_clock: FakeClock, payload: Path,
                                       server: XRootDServer, other_server: XRootDServer) -> None:
    base = _base()
    ses = {"SE-R1": _root(server, base), "SE-X": _root(other_server, base)}
    with data_manager(database, fake_clock, ses) as (manager, transfers):
        manager.put_and_register(LFN, payload, "SE-R1")
        _copied(manager, transfers, "SE-R1", "SE-X")
    assert other_server.local_path(f"{base}{LFN}").read_bytes() == payload.read_bytes()
    assert _logged(server, "granted tpc access", f"to {base}{LFN}")


def test_a_server_refusing_the_copy_gets_the_file_uploaded(
        database: Database, fake_clock: FakeClock, payload: Path, server: XRootDServer,
        plain_server: XRootDServer) -> None:
    base = _base()
    ses = {"SE-R1": _root(server, base), "SE-PLAIN": _root(plain_server, base)}
    with data_manager(database, fake_clock, ses) as (manager, transfers):
        manager.put_and_register(LFN, payload, "SE-R1")
        stored = manager.replicate_and_register(LFN, "SE-PLAIN")
        assert (stored.method, stored.registered) == (TransferMethod.DOWNLOAD_UPLOAD, True)
        assert stored.tpc_error is not None and "tpc not supported" in stored.tpc_error
        assert transfers.calls == [([LFN], "SE-R1", "SE-PLAIN", False)]
        assert manager.catalog.get_replicas([LFN]).ok[LFN] == {"SE-R1", "SE-PLAIN"}
    assert plain_server.local_path(f"{base}{LFN}").read_bytes() == payload.read_bytes()


def test_a_root_copy_of_a_rotten_source_is_removed_and_not_registered(
        database: Database, fake_clock: FakeClock, payload: Path, server: XRootDServer) -> None:
    base = _base()
    ses = {"SE-R1": _root(server, f"{base}/one"), "SE-R2": _root(server, f"{base}/two")}
    with data_manager(database, fake_clock, ses) as (manager, transfers):
        manager.put_and_register(LFN, payload, "SE-R1")  # the server caches the file's adler32
        rotten = server.local_path(f"{base}/one{LFN}")
        before = rotten.stat()
        with rotten.open("r+b") as fh:  # one byte flipped, times kept: the cached checksum goes stale
            fh.seek(1000)
            byte = fh.read(1)
            fh.seek(1000)
            fh.write(bytes([byte[0] ^ 0xFF]))
        os.utime(rotten, ns=(before.st_atime_ns, before.st_mtime_ns))
        with pytest.raises(ChecksumMismatch) as caught:
            manager.replicate_and_register(LFN, "SE-R2")
        assert caught.value.expected == adler32_file(payload)  # the source server's (stale) checksum
        assert caught.value.actual == adler32_file(rotten)     # the copy's, computed afresh
        assert not manager.storage["SE-R2"].exists(LFN)
        assert manager.catalog.get_replicas([LFN]).ok[LFN] == {"SE-R1"}
        assert transfers.calls == []


def test_davs_to_davs_is_an_http_third_party_copy(database: Database, fake_clock: FakeClock, payload: Path,
                                                 server: XRootDServer) -> None:
    base = _base()
    # digest=False: XrdHttp 5.5 mishandles Want-Digest for a checksum it has not cached, so the copy
    # is checked by reading it back
    davs = {"type": "davs", "host": server.host, "port": server.https_port,
            "options": {"ca": str(server.ca_file), "digest": False}}
    ses = {"SE-D1": [{**davs, "path": f"{base}/one"}], "SE-D2": [{**davs, "path": f"{base}/two"}]}
    with data_manager(database, fake_clock, ses) as (manager, transfers):
        manager.put_and_register(LFN, payload, "SE-D1")
        _copied(manager, transfers, "SE-D1", "SE-D2")
    assert server.local_path(f"{base}/two{LFN}").read_bytes() == payload.read_bytes()
    assert _logged(server, "event=PULL_START", f"local={base}/two{LFN}",
                   f"remote=https://{server.host}:{server.https_port}{base}/one{LFN}")


def test_s3_to_s3_is_a_server_side_copy_within_a_bucket_only(
        database: Database, fake_clock: FakeClock, payload: Path, s3_server: S3Server,
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    other_bucket = f"other-{secrets.token_hex(4)}"
    s3_server.client().create_bucket(Bucket=other_bucket)
    base = f"t-{secrets.token_hex(6)}"
    s3 = {"type": "s3", "endpoint_url": s3_server.endpoint_url, "region": s3_server.region}
    ses = {"SE-S1": [{**s3, "bucket": s3_server.bucket, "path": f"{base}/one"}],
           "SE-S2": [{**s3, "bucket": s3_server.bucket, "path": f"{base}/two"}],
           "SE-S3": [{**s3, "bucket": other_bucket, "path": base}]}
    with data_manager(database, fake_clock, ses) as (manager, transfers):
        manager.put_and_register(LFN, payload, "SE-S1")
        _copied(manager, transfers, "SE-S1", "SE-S2")
        head = s3_server.client().head_object(Bucket=s3_server.bucket, Key=f"{base}/two{LFN}")
        assert head["Metadata"] == {"adler32": adler32_file(payload)}
        # another bucket may be on another endpoint (an s3:// URL does not say): no server-side copy
        stored = manager.replicate_and_register(LFN, "SE-S3")
        assert (stored.method, stored.tpc_error) == (TransferMethod.DOWNLOAD_UPLOAD, None)
        assert transfers.calls[-1][3] is False
    body = s3_server.client().get_object(Bucket=other_bucket, Key=f"{base}{LFN}")["Body"].read()
    assert body == payload.read_bytes()

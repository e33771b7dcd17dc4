"""Transfer rates of the root storage driver beside ``xrdcp``, against a real XRootD server.

Run with ``nox -s bench`` (or ``pytest benchmarks/test_se_bench.py -s
--benchmark-enable``). One file of ``DIRAC_BENCH_SE_MB`` MiB (default 1024)
is uploaded, then downloaded, ``DIRAC_BENCH_SE_ROUNDS`` times (default 3)
by ``xrdcp`` and by :class:`~dirac_plugins_se.root.RootStorage`, turn about,
so both see the same page cache and disk. Each test prints the best rate of
each and their ratio; the target is at least 80 % of ``xrdcp``. ``xrdcp``
checks no checksum by default while the driver verifies adler32 end to end,
so the upload also prints ``xrdcp --cksum adler32`` for a like-for-like figure.

The replication test makes a replica of the file between two ``root`` SEs of
the server as the data manager does: by third-party copy (the server pulls
it), and through a scratch file (download, then upload), and prints both.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from dirac_core.checksums import adler32_file
from dirac_core.config import load_config
from dirac_core.dms.storage_element import StorageElements
from dirac_core.dms.transfer import TransferMethod, replicate
from dirac_core.plugins.catalog import FileEntry
from dirac_core.testing._daemons import ComponentUnavailable, require_binaries
from dirac_core.testing.databases import skip_or_fail
from dirac_core.testing.xrootd import XRootDServer, xrootd_server
from dirac_plugins_se.root import RootStorage

SIZE_MB = int(os.environ.get("DIRAC_BENCH_SE_MB", "1024"))
ROUNDS = int(os.environ.get("DIRAC_BENCH_SE_ROUNDS", "3"))
TARGET = 0.8


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[XRootDServer]:
    with ExitStack() as stack:
        try:
            require_binaries(["xrdcp"])
            running = stack.enter_context(xrootd_server(tmp_path_factory.mktemp("xrootd-bench")))
        except ComponentUnavailable as exc:
            skip_or_fail(f"XRootD server or xrdcp unavailable: {exc}")
        yield running


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    path = tmp_path_factory.mktemp("se-bench") / "big.bin"
    block = os.urandom(1 << 20)
    with path.open("wb") as fh:
        for index in range(SIZE_MB):
            fh.write(block[index % 251:] + block[:index % 251])  # distinct blocks, cheap to make
    yield path
    path.unlink()  # pytest keeps its last temporary folders: do not keep a gigabyte in them


def _timed(action: Callable[[], object], into: list[float]) -> None:
    start = time.perf_counter()
    action()
    into.append(time.perf_counter() - start)


def _xrdcp(*args: str) -> None:
    subprocess.run(["xrdcp", "--nopbar", "--force", *args], check=True, capture_output=True, timeout=3600)


def _report(benchmark: BenchmarkFixture, what: str, ours: list[float],
            theirs: dict[str, list[float]]) -> None:
    mib = SIZE_MB
    rate = mib / min(ours)
    rates = {name: mib / min(times) for name, times in theirs.items()}
    ratio = rate / rates["xrdcp"]
    benchmark.extra_info.update(size_mib=mib, ours_mib_s=round(rate, 1), ratio=round(ratio, 3),
                                **{f"{name}_mib_s": round(value, 1) for name, value in rates.items()})
    others = "; ".join(f"{name} {value:,.0f} MiB/s" for name, value in rates.items())
    verdict = "meets" if ratio >= TARGET else "MISSES"
    print(f"\n{what} of {mib} MiB, best of {len(ours)}: RootStorage {rate:,.0f} MiB/s; {others}; "
          f"{ratio:.0%} of xrdcp ({verdict} the {TARGET:.0%} target)")


def test_upload_rate(benchmark: BenchmarkFixture, server: XRootDServer, big_file: Path) -> None:
    driver = RootStorage(server.host, port=server.root_port)
    ours: list[float] = []
    plain: list[float] = []
    checked: list[float] = []

    def xrdcp_round() -> None:
        _timed(lambda: _xrdcp(str(big_file), f"{server.root_url}//bench/xrdcp.bin"), plain)
        _timed(lambda: _xrdcp("--cksum", "adler32", str(big_file), f"{server.root_url}//bench/xrdcp.bin"),
               checked)

    benchmark.pedantic(lambda: _timed(lambda: driver.put(big_file, "/bench/ours.bin"), ours),
                       setup=xrdcp_round, rounds=ROUNDS, iterations=1)
    assert driver.stat("/bench/ours.bin").size == big_file.stat().st_size
    _report(benchmark, "upload", ours, {"xrdcp": plain, "xrdcp --cksum adler32": checked})


def test_download_rate(benchmark: BenchmarkFixture, server: XRootDServer, big_file: Path,
                       tmp_path: Path) -> None:
    driver = RootStorage(server.host, port=server.root_port)
    driver.put(big_file, "/bench/down.bin")
    ours: list[float] = []
    plain: list[float] = []

    def xrdcp_round() -> None:
        _timed(lambda: _xrdcp(f"{server.root_url}//bench/down.bin", str(tmp_path / "xrdcp.bin")), plain)

    benchmark.pedantic(lambda: _timed(lambda: driver.get("/bench/down.bin", tmp_path / "ours.bin"), ours),
                       setup=xrdcp_round, rounds=ROUNDS, iterations=1)
    assert (tmp_path / "ours.bin").stat().st_size == big_file.stat().st_size
    _report(benchmark, "download", ours, {"xrdcp": plain})
    for name in ("ours.bin", "xrdcp.bin"):
        (tmp_path / name).unlink()


_TWO_SES = """
[resources.storage_elements.SE-ONE]
name = "SE-ONE"
[[resources.storage_elements.SE-ONE.protocols]]
type = "root"
host = "{host}"
port = {port}
path = "/bench/one"

[resources.storage_elements.SE-TWO]
name = "SE-TWO"
[[resources.storage_elements.SE-TWO.protocols]]
type = "root"
host = "{host}"
port = {port}
path = "/bench/two"
"""


def test_replicate_third_party_against_download_and_upload(benchmark: BenchmarkFixture, server: XRootDServer,
                                                           big_file: Path, tmp_path: Path) -> None:
    if not server.third_party_copy:
        skip_or_fail("the XRootD server has no third-party copy (xrdcp missing)")
    config = load_config(_TWO_SES.format(host=server.host, port=server.root_port), format="toml")
    storage = StorageElements(config)
    source, target = storage["SE-ONE"], storage["SE-TWO"]
    lfn = "/vo/bench/replica.bin"
    entry = FileEntry(lfn=lfn, size=big_file.stat().st_size, checksum=adler32_file(big_file))
    source.put(big_file, lfn, checksum=entry.checksum)
    third_party: list[float] = []
    through_scratch: list[float] = []

    def download_upload() -> None:
        scratch = tmp_path / "scratch.bin"
        source.get(lfn, scratch, checksum=entry.checksum)
        target.put(scratch, lfn, checksum=entry.checksum)
        scratch.unlink()

    def scratch_round() -> None:
        target.remove(lfn)
        _timed(download_upload, through_scratch)
        target.remove(lfn)

    def tpc() -> None:
        done = replicate(storage, entry, ["SE-ONE"], "SE-TWO", why=[])
        assert done.method is TransferMethod.THIRD_PARTY

    benchmark.pedantic(lambda: _timed(tpc, third_party), setup=scratch_round, rounds=ROUNDS, iterations=1)
    assert target.stat(lfn).checksum == entry.checksum
    storage.close()
    rates = {"third-party": SIZE_MB / min(third_party), "download+upload": SIZE_MB / min(through_scratch)}
    benchmark.extra_info.update(size_mib=SIZE_MB, **{f"{k}_mib_s": round(v, 1) for k, v in rates.items()})
    print(f"\nreplica of {SIZE_MB} MiB between two root SEs, best of {len(third_party)}: third-party copy "
          f"{min(third_party):.2f} s ({rates['third-party']:,.0f} MiB/s); download+upload "
          f"{min(through_scratch):.2f} s ({rates['download+upload']:,.0f} MiB/s)")

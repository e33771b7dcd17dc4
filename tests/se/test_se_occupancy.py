"""Free space: the file and root drivers report it, storage elements pass it on (or say they cannot)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from dirac_core.config import load_config
from dirac_core.config.sections import FileProtocol
from dirac_core.dms.storage_element import StorageElements
from dirac_core.errors import ConfigError, StorageError
from dirac_core.plugins.storage import Occupancy, SpaceReporting
from dirac_core.testing.xrootd import XRootDServer
from dirac_plugins_se._root_answers import parse_space
from dirac_plugins_se.file import FileStorage
from dirac_plugins_se.root import RootStorage


def test_a_file_storage_reports_its_file_system(tmp_path: Path) -> None:
    driver = FileStorage(tmp_path / "se")  # not created yet: its nearest parent's file system
    assert isinstance(driver, SpaceReporting)
    disk = shutil.disk_usage(tmp_path)
    occupancy = driver.occupancy()
    assert occupancy.total == disk.total
    assert abs(occupancy.free - disk.free) < 64 << 20  # the disk is shared: it moves a little


def test_a_quota_is_what_the_base_may_still_take(tmp_path: Path) -> None:
    driver = FileStorage(tmp_path, quota=10_000)
    assert driver.occupancy() == Occupancy(free=10_000, total=10_000)
    source = tmp_path.parent / f"{tmp_path.name}-src"
    source.write_bytes(b"x" * 3000)
    driver.put(source, "/vo/a/f1")
    driver.put(source, "/vo/b/f2")
    assert driver.occupancy() == Occupancy(free=4000, total=10_000)
    driver.put(source, "/vo/b/f3")
    driver.put(source, "/vo/b/f4")  # over the quota: a quota informs placement, it is not enforced
    assert driver.occupancy() == Occupancy(free=0, total=10_000)


@pytest.mark.parametrize("quota", [0, -5, "10GB", True, 2.5])
def test_a_bad_quota_option_is_refused(quota: object) -> None:
    section = FileProtocol(path="/srv/se", options={"quota": quota})
    with pytest.raises(ConfigError, match="quota"):
        FileStorage.from_section(section)


def test_the_quota_option_is_read() -> None:
    section = FileProtocol(path="/srv/se", options={"quota": 5 * 10**9})
    assert FileStorage.from_section(section).quota == 5 * 10**9


def test_an_unreadable_base_is_a_storage_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "vo").mkdir()

    def refuse(path: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(os, "scandir", refuse)  # root reads everything: the refusal is simulated
    with pytest.raises(StorageError, match=r"free space.*Permission denied"):
        FileStorage(tmp_path, quota=10).occupancy()


# -- XRootD ------------------------------------------------------------------------------


def test_a_space_answer_is_read() -> None:
    answer = b"oss.cgroup=public&oss.space=1000&oss.free=300&oss.maxf=300&oss.used=700&oss.quota=-1\x00"
    assert parse_space(answer, "root://h//") == Occupancy(free=300, total=1000)


def test_a_space_quota_bounds_the_free_bytes() -> None:
    answer = b"oss.cgroup=public&oss.space=1000&oss.free=300&oss.used=700&oss.quota=750"
    assert parse_space(answer, "root://h//") == Occupancy(free=50, total=750)


@pytest.mark.parametrize("answer", [b"", b"oss.cgroup=public", b"oss.free=lots"])
def test_a_space_answer_without_free_bytes_is_an_error(answer: bytes) -> None:
    with pytest.raises(StorageError, match="no free space"):
        parse_space(answer, "root://h//")


@pytest.fixture
def root_driver(xrootd_server: XRootDServer) -> Iterator[RootStorage]:
    with RootStorage(xrootd_server.host, port=xrootd_server.root_port, base_path="/occupancy") as driver:
        yield driver


def test_a_real_xrootd_server_tells_its_free_space(root_driver: RootStorage, xrootd_server: XRootDServer
                                                   ) -> None:
    occupancy = root_driver.occupancy()
    disk = shutil.disk_usage(xrootd_server.local_path("/"))
    assert occupancy.total == disk.total
    assert abs(occupancy.free - disk.free) < 64 << 20


# -- storage elements ------------------------------------------------------------------------

GRID = """
[resources.storage_elements.QUOTA-SE]
name = "QUOTA-SE"
[[resources.storage_elements.QUOTA-SE.protocols]]
type = "file"
path = "{base}/quota"
options = {{ quota = 5000 }}

[resources.storage_elements.FULL-SE]
name = "FULL-SE"
write_access = "Banned"
[[resources.storage_elements.FULL-SE.protocols]]
type = "file"
path = "{base}/full"

[resources.storage_elements.S3-SE]
name = "S3-SE"
[[resources.storage_elements.S3-SE.protocols]]
type = "s3"
host = "127.0.0.1"
port = 9
bucket = "bucket"
"""


def test_storage_elements_give_the_free_space_of_those_that_tell(tmp_path: Path) -> None:
    ses = StorageElements(load_config(GRID.format(base=tmp_path), format="toml"))
    assert ses["QUOTA-SE"].occupancy() == Occupancy(free=5000, total=5000)
    assert ses["FULL-SE"].occupancy() == Occupancy(free=0)      # no writes: no room
    assert ses["S3-SE"].occupancy() is None                      # S3 cannot tell
    assert ses.free_space() == {"FULL-SE": 0, "QUOTA-SE": 5000}
    assert ses.free_space(["QUOTA-SE"]) == {"QUOTA-SE": 5000}

"""Conformance suite for :class:`~dirac_core.plugins.storage.StorageProtocol` drivers.

Subclass :class:`StorageProtocolSuite` and provide a ``driver`` fixture that
yields a driver writing under an empty, private directory. Capabilities:
``checksum`` (``stat`` returns the adler32 the storage computed);
``third_party_copy`` (the driver is a
:class:`~dirac_core.plugins.storage.ThirdPartyCopy` that copies from its own
URLs; without it, the driver must say it cannot).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dirac_core.checksums import adler32_bytes
from dirac_core.errors import NotFound, StorageError
from dirac_core.plugins.storage import StorageProtocol, ThirdPartyCopy
from dirac_core.testing.conformance.base import ConformanceSuite

__all__ = ["StorageProtocolSuite"]


class StorageProtocolSuite(ConformanceSuite):
    """Tests every storage protocol driver must pass."""

    known_capabilities = frozenset({"checksum", "third_party_copy"})

    @pytest.fixture
    def driver(self) -> StorageProtocol:
        raise NotImplementedError("the driver's test module provides the driver fixture")

    @pytest.fixture
    def payload(self, tmp_path: Path) -> Path:
        source = tmp_path / "payload.bin"
        source.write_bytes(bytes(range(256)) * 41 + b"tail")
        return source

    def test_put_then_get_gives_same_bytes(self, driver: StorageProtocol, payload: Path,
                                           tmp_path: Path) -> None:
        put = driver.put(payload, "/vo/data/run1/file.bin")
        assert put.size == payload.stat().st_size
        back = tmp_path / "back.bin"
        got = driver.get("/vo/data/run1/file.bin", back)
        assert back.read_bytes() == payload.read_bytes()
        assert got.size == put.size

    def test_stat_reports_size_and_checksum(self, driver: StorageProtocol, payload: Path) -> None:
        driver.put(payload, "/vo/a/f")
        stat = driver.stat("/vo/a/f")
        assert stat.size == payload.stat().st_size
        assert not stat.is_dir
        expected = adler32_bytes(payload.read_bytes()) if self.has("checksum") else None
        assert stat.checksum == expected

    def test_missing_file(self, driver: StorageProtocol, tmp_path: Path) -> None:
        assert driver.exists("/vo/none") is False
        with pytest.raises(NotFound):
            driver.stat("/vo/none")
        with pytest.raises(NotFound):
            driver.get("/vo/none", tmp_path / "x")

    def test_remove_is_idempotent(self, driver: StorageProtocol, payload: Path) -> None:
        driver.put(payload, "/vo/r/f")
        driver.remove("/vo/r/f")
        assert not driver.exists("/vo/r/f")
        driver.remove("/vo/r/f")  # a missing file counts as removed

    def test_put_replaces(self, driver: StorageProtocol, payload: Path, tmp_path: Path) -> None:
        driver.put(payload, "/vo/o/f")
        small = tmp_path / "small"
        small.write_bytes(b"x")
        assert driver.put(small, "/vo/o/f").size == 1
        assert driver.stat("/vo/o/f").size == 1

    def test_listdir(self, driver: StorageProtocol, payload: Path) -> None:
        driver.put(payload, "/vo/l/a")
        driver.put(payload, "/vo/l/sub/b")
        assert driver.listdir("/vo/l") == ["a", "sub"]
        assert driver.stat("/vo/l/sub").is_dir
        with pytest.raises(NotFound):
            driver.listdir("/vo/nothing-here")

    def test_url_names_the_path(self, driver: StorageProtocol) -> None:
        url = driver.url("/vo/u/f")
        assert url.startswith(f"{driver.scheme}:")
        assert url.endswith("/vo/u/f")

    def test_third_party_copy_from_its_own_urls(self, driver: StorageProtocol, payload: Path,
                                                tmp_path: Path) -> None:
        driver.put(payload, "/vo/tpc/src")
        source = driver.url("/vo/tpc/src")
        if not self.has("third_party_copy"):
            assert not isinstance(driver, ThirdPartyCopy) or not driver.can_copy_from(source)
            return
        assert isinstance(driver, ThirdPartyCopy) and driver.can_copy_from(source)
        old = tmp_path / "old.bin"
        old.write_bytes(b"an old copy, to be replaced")
        driver.put(old, "/vo/tpc/deep/copy")
        copied = driver.copy_from(source, "/vo/tpc/deep/copy")
        assert copied.size == payload.stat().st_size
        assert copied.checksum in (None, adler32_bytes(payload.read_bytes()))
        back = tmp_path / "copied.bin"
        driver.get("/vo/tpc/deep/copy", back)
        assert back.read_bytes() == payload.read_bytes()
        with pytest.raises((NotFound, StorageError)):
            driver.copy_from(driver.url("/vo/tpc/none"), "/vo/tpc/never")
        assert not driver.exists("/vo/tpc/never")  # a failed copy leaves nothing

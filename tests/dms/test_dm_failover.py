"""A registration that fails after the upload becomes a stored request of the caller, on every backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dirac_core.config import load_config
from dirac_core.db import Database
from dirac_core.errors import CatalogError, InvalidRequest
from dirac_core.interware import EMBEDDED_CONFIG, Interware
from dirac_core.model import FakeClock
from dirac_core.model.request import RequestStatus
from dirac_core.plugins.manager import make_plugin_manager


@pytest.fixture
def iw(database: Database, fake_clock: FakeClock, tmp_path: Path) -> Iterator[Interware]:
    config = load_config(EMBEDDED_CONFIG.format(root=tmp_path.as_posix()), format="toml")
    interware = Interware(config=config, database=database, clock=fake_clock, hooks=make_plugin_manager(()))
    yield interware
    interware.storage.close()


def test_a_failed_registration_leaves_the_replica_and_a_register_file_request(
        iw: Interware, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    alice = iw.identity("alice")
    dm = iw.data_manager(alice, job_id=41)
    source = tmp_path / "out.dat"
    source.write_bytes(b"payload")

    def refuse(*args: object, **kwargs: object) -> object:
        raise CatalogError("catalog down")

    monkeypatch.setattr(dm, "_register", refuse)
    stored = dm.put_and_register("/demo/user/a/alice/out.dat", source, "Embedded-SE")
    assert stored.registered is False and stored.failover is not None
    assert iw.storage["Embedded-SE"].exists("/demo/user/a/alice/out.dat")  # kept, to be registered
    request = iw.requests.get([int(stored.failover)]).ok[int(stored.failover)]
    assert (request.owner, request.vo, request.job_id, request.status) == ("alice", "demo", 41,
                                                                          RequestStatus.WAITING)
    [op] = request.operations
    [file] = op.files
    assert (op.type, op.target_se) == ("RegisterFile", ("Embedded-SE",))
    assert (file.lfn, file.size, file.checksum, file.checksum_type) == (
        "/demo/user/a/alice/out.dat", 7, stored.checksum, "ADLER32")
    assert file.guid is not None


def test_a_failover_that_cannot_be_stored_is_not_hidden(iw: Interware, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    dm = iw.data_manager(iw.identity("alice"))
    source = tmp_path / "out.dat"
    source.write_bytes(b"payload")

    def refuse(*args: object, **kwargs: object) -> object:
        raise CatalogError("catalog down")

    monkeypatch.setattr(dm, "_register", refuse)
    monkeypatch.setattr(iw.requests, "types", {})  # the store now refuses every operation type
    with pytest.raises(InvalidRequest, match="unknown operation type"):
        dm.put_and_register("/demo/user/a/alice/out.dat", source, "Embedded-SE")
    assert not iw.storage["Embedded-SE"].exists("/demo/user/a/alice/out.dat")  # no silent orphan

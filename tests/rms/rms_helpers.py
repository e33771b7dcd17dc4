"""An interware on the test database with file SEs and the SQL catalog, for the request executor."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from dirac_core.config import Config, load_config
from dirac_core.db import Database
from dirac_core.interware import EMBEDDED_CONFIG, Interware
from dirac_core.model import FakeClock
from dirac_core.plugins.manager import make_plugin_manager
from dirac_core.rms import Operation, Request, RequestFile

#: SE-A and SE-B (the embedded SEs renamed), SE-C, SE-FAILOVER: file SEs under the test's directory
EXTRA_SES = """
[resources.storage_elements.SE-C]
name = "SE-C"
[[resources.storage_elements.SE-C.protocols]]
type = "file"
path = "{root}/se-c"

[resources.storage_elements.SE-FAILOVER]
name = "SE-FAILOVER"
[[resources.storage_elements.SE-FAILOVER.protocols]]
type = "file"
path = "{root}/se-failover"
"""


def grid_config(root: Path, extra: str = "") -> Config:
    """The embedded configuration (Embedded-SE, Embedded-SE2) plus SE-C and SE-FAILOVER."""
    return load_config((EMBEDDED_CONFIG + EXTRA_SES + extra).format(root=root.as_posix()), format="toml")


def make_interware(database: Database, clock: FakeClock, root: Path, *, plugins: Iterable[object] = (),
                   extra: str = "") -> Interware:
    """An interware on ``database`` (close with :func:`close_interware`: the database is the fixture's)."""
    return Interware(config=grid_config(root, extra), database=database, clock=clock,
                     hooks=make_plugin_manager(plugins, entry_points=False))


def close_interware(iw: Interware) -> None:
    """Stop the executor and close the SEs and catalogs, leaving the fixture's database open."""
    iw.request_executor.close()
    iw.storage.close()


def put(iw: Interware, tmp_path: Path, lfn: str, se: str, data: bytes = b"payload") -> None:
    """Store and register ``lfn`` on ``se`` as alice."""
    source = tmp_path / "upload.tmp"
    source.write_bytes(data)
    iw.data_manager(iw.identity("alice")).put_and_register(lfn, source, se)


def request(*operations: Operation, name: str = "r", job_id: int | None = None, owner: str = "alice",
            group: str = "demo_user") -> Request:
    """A request of ``owner`` (in ``group``) with ``operations``."""
    return Request(name=name, owner=owner, owner_group=group, vo="demo", job_id=job_id,
                   operations=list(operations))


def op(kind: str, lfns: Iterable[str] = (), **attributes: object) -> Operation:
    """An operation of type ``kind`` over ``lfns``."""
    return Operation(type=kind, files=[RequestFile(lfn=lfn) for lfn in lfns], **attributes)  # type: ignore[arg-type]


def submit(iw: Interware, *requests: Request) -> list[int]:
    """Store ``requests``; their ids (every one must be accepted)."""
    result = iw.requests.submit(list(requests))
    assert not result.failed, result.failed
    return [result.ok[i] for i in range(len(requests))]


def stored(iw: Interware, request_id: int) -> Request:
    """The request as stored now."""
    return iw.requests.get([request_id]).ok[request_id]

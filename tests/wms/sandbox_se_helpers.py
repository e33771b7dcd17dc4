"""Storage elements for the sandbox store tests: a file SE, one on the real XRootD server, one on moto S3.

Each comes with a way to look at the objects behind the SE's back, so that the tests see what is
really stored, not what the store says.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

from dirac_core.config.resources import StorageElement as SEConfig
from dirac_core.config.sections import FileProtocol, ProtocolSection, RootProtocol, S3Protocol
from dirac_core.dms.storage_element import StorageElement, build_protocol
from dirac_core.plugins.storage import StorageProtocol

SE_KINDS = ["file", "root", "s3"]
NAME = "Sandbox-SE"


@attrs.frozen(kw_only=True)
class SandboxSE:
    """An SE section for the sandboxes, and how to list what it holds under ``/sandboxes``."""

    kind: str
    config: SEConfig
    #: the object paths under the sandbox base (``demo/sha256:....tar.bz2``), read behind the SE's back
    listing: Callable[[], list[str]]

    @property
    def section(self) -> ProtocolSection:
        """The SE's one protocol section."""
        return self.config.protocols[0]

    def build(self) -> tuple[StorageElement, StorageProtocol]:
        """The SE and its driver (to break it in a test)."""
        driver = build_protocol(self.section, self.config.name)
        return StorageElement(self.config, [(self.section, driver)]), driver


def _files_under(base: Path) -> list[str]:
    return sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file()) \
        if base.is_dir() else []


def sandbox_se(kind: str, request: pytest.FixtureRequest, tmp_path: Path, name: str = NAME) -> SandboxSE:
    """A sandbox SE of ``kind`` (``file``, ``root`` or ``s3``) with a private base of its own."""
    private = f"t-{secrets.token_hex(6)}"
    section: ProtocolSection
    if kind == "file":
        section = FileProtocol(path=str(tmp_path / "se"))
        base = tmp_path / "se" / "sandboxes"

        def listing() -> list[str]:
            return _files_under(base)
    elif kind == "root":
        server = request.getfixturevalue("xrootd_server")
        section = RootProtocol(host=server.host, port=server.root_port, path=f"/{private}")
        root_base = server.local_path(f"/{private}/sandboxes")

        def listing() -> list[str]:
            return _files_under(root_base)
    elif kind == "s3":
        s3 = request.getfixturevalue("s3_server")
        monkeypatch = request.getfixturevalue("monkeypatch")
        for key, value in s3.environment().items():  # boto3 finds its credentials there
            monkeypatch.setenv(key, value)
        section = S3Protocol(bucket=s3.bucket, region=s3.region, endpoint_url=s3.endpoint_url, path=private)

        def listing() -> list[str]:
            found = s3.client().list_objects_v2(Bucket=s3.bucket, Prefix=f"{private}/sandboxes/")
            return sorted(o["Key"].removeprefix(f"{private}/sandboxes/") for o in found.get("Contents", []))
    else:
        raise ValueError(kind)
    return SandboxSE(kind=kind, config=SEConfig(name=name, protocols=(section,)), listing=listing)

"""The security suite: an interware (signing keys encrypted) on every backend, and the app."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sec_helpers import sec_config

from dirac_core.db import Database
from dirac_core.interware import Interware
from dirac_core.model import FakeClock
from dirac_core.plugins.manager import make_plugin_manager
from dirac_server import ServerSettings, create_app


@pytest.fixture
def iw(database: Database, fake_clock: FakeClock) -> Iterator[Interware]:
    """An interware on the backend under test, the fake clock and a file catalog."""
    url = database.url.render_as_string(hide_password=False)
    found = Interware(config=sec_config(url), database=database, clock=fake_clock,
                      hooks=make_plugin_manager(()))
    yield found
    if found.catalog is not None:
        found.catalog.close()


@pytest.fixture
def client(iw: Interware, tmp_path: Path) -> Iterator[TestClient]:
    """A test client of the app, its sandboxes under ``tmp_path/store``."""
    settings = ServerSettings(max_body_bytes=64 * 1024, sandbox_dir=str(tmp_path / "store"))
    with TestClient(create_app(iw, settings)) as test_client:
        yield test_client

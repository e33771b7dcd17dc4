"""An interware on every backend behind the app, and tokens for the test users."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from server_helpers import server_config

from dirac_core.db import Database
from dirac_core.interware import Interware
from dirac_core.model import FakeClock
from dirac_core.plugins.manager import make_plugin_manager
from dirac_server import ServerSettings, create_app


@pytest.fixture
def iw(database: Database, fake_clock: FakeClock) -> Interware:
    """An interware on the backend under test, with the fake clock."""
    url = database.url.render_as_string(hide_password=False)
    return Interware(config=server_config(url), database=database, clock=fake_clock,
                    hooks=make_plugin_manager(()))


@pytest.fixture
def client(iw: Interware) -> Iterator[TestClient]:
    """A test client of the app (small body limit: 64 KiB)."""
    app = create_app(iw, ServerSettings(max_body_bytes=64 * 1024))
    with TestClient(app) as test_client:
        yield test_client


class Tokens:
    """Bearer headers for the test users."""

    def __init__(self, iw: Interware) -> None:
        self._iw = iw

    def __call__(self, user: str, group: str | None = None) -> dict[str, str]:
        _, pair = self._iw.auth.issue(user, vo="demo", group=group)
        return {"Authorization": f"Bearer {pair.access_token}"}


@pytest.fixture
def auth(iw: Interware) -> Tokens:
    """``auth("alice")`` -> the headers of a request by alice (her VO's default group)."""
    return Tokens(iw)

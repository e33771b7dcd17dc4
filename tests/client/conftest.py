"""A live server on a loopback port, on every backend, and remote clients of it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from client_helpers import Served, client_config

from dirac_core.db import Database
from dirac_core.interware import Interware
from dirac_core.model import SystemClock
from dirac_core.plugins.manager import make_plugin_manager
from dirac_server import create_app
from dirac_server.runner import bind, running, url_of


@pytest.fixture
def served(database: Database) -> Iterator[Served]:
    """The server on loopback (its issuer its own URL), on the backend under test."""
    sock = bind()
    url = url_of(sock)
    db_url = database.url.render_as_string(hide_password=False)
    iw = Interware(config=client_config(db_url, issuer=url), database=database, clock=SystemClock(),
                   hooks=make_plugin_manager(()))
    with running(create_app(iw), sock) as live:
        found = Served(iw, live)
        try:
            yield found
        finally:
            found.close()

"""A live server with a file catalog, on every backend (and one without a catalog)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from catalog_http_helpers import LiveCatalog, catalog_config

from dirac_core.db import Database
from dirac_core.interware import Interware
from dirac_core.model import SystemClock
from dirac_core.plugins.manager import make_plugin_manager
from dirac_server import ServerSettings, create_app
from dirac_server.runner import bind, running, url_of


def _serve(database: Database, *, catalog: bool, settings: ServerSettings | None = None
           ) -> Iterator[LiveCatalog]:
    sock = bind()
    url = url_of(sock)
    db_url = database.url.render_as_string(hide_password=False)
    iw = Interware(config=catalog_config(db_url, url, catalog=catalog), database=database,
                   clock=SystemClock(), hooks=make_plugin_manager(()))
    with running(create_app(iw, settings), sock) as live:
        found = LiveCatalog(iw, live)
        try:
            yield found
        finally:
            found.close()
            if iw.catalog is not None:
                iw.catalog.close()


@pytest.fixture
def live(database: Database) -> Iterator[LiveCatalog]:
    """The server on loopback, with the SQL catalog in the database under test."""
    yield from _serve(database, catalog=True)


@pytest.fixture
def small_live(database: Database) -> Iterator[LiveCatalog]:
    """The same, taking at most 5 items per catalog call."""
    yield from _serve(database, catalog=True, settings=ServerSettings(catalog_max_items=5))


@pytest.fixture
def tight_live(database: Database) -> Iterator[LiveCatalog]:
    """The same, taking request bodies of at most 2 KiB."""
    yield from _serve(database, catalog=True, settings=ServerSettings(max_body_bytes=2048))


@pytest.fixture
def bare_live(database: Database) -> Iterator[LiveCatalog]:
    """A server without a file catalog."""
    yield from _serve(database, catalog=False)

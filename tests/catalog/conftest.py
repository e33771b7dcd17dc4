"""Fixtures of the SQL catalog tests: a catalog on each backend, and identities."""

from __future__ import annotations

import pytest

from dirac_core.db import Database
from dirac_core.model.clock import FakeClock
from dirac_plugins_catalog.sql import CatalogOptions, SQLFileCatalog


@pytest.fixture
def catalog(database: Database, fake_clock: FakeClock) -> SQLFileCatalog:
    """An empty SQL catalog (trusted: no identity) on each backend."""
    return SQLFileCatalog(database, clock=fake_clock)


@pytest.fixture
def strict_catalog(database: Database, fake_clock: FakeClock) -> SQLFileCatalog:
    """An empty SQL catalog without global read access."""
    return SQLFileCatalog(database, clock=fake_clock, options=CatalogOptions(global_read=False))


"""The SQL catalog passes the catalog and metadata conformance suites on every backend."""

from __future__ import annotations

import pytest

from dirac_core.db import Database
from dirac_core.model.clock import FakeClock
from dirac_core.testing.conformance import CatalogSuite, MetadataCatalogSuite
from dirac_plugins_catalog.sql import SQLFileCatalog


class TestSQLCatalog(CatalogSuite):
    @pytest.fixture
    def driver(self, database: Database, fake_clock: FakeClock) -> SQLFileCatalog:
        return SQLFileCatalog(database, clock=fake_clock)


class TestSQLMetadataCatalog(MetadataCatalogSuite):
    @pytest.fixture
    def driver(self, database: Database, fake_clock: FakeClock) -> SQLFileCatalog:
        return SQLFileCatalog(database, clock=fake_clock)

"""The remote catalog passes the catalog and metadata conformance suites through a running server,
on every backend (acting as a catalog administrator: declaring fields needs one)."""

from __future__ import annotations

import pytest
from catalog_http_helpers import LiveCatalog

from dirac_core.client import RemoteCatalog
from dirac_core.testing.conformance import CatalogSuite, MetadataCatalogSuite


def _admin(live: LiveCatalog) -> RemoteCatalog:
    catalog = live.remote("admin", "demo_catalog").catalog
    assert isinstance(catalog, RemoteCatalog)
    return catalog


class TestRemoteCatalog(CatalogSuite):
    @pytest.fixture
    def driver(self, live: LiveCatalog) -> RemoteCatalog:
        return _admin(live)


class TestRemoteMetadataCatalog(MetadataCatalogSuite):
    @pytest.fixture
    def driver(self, live: LiveCatalog) -> RemoteCatalog:
        return _admin(live)

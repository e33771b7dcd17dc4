"""The SQL file catalog (driver ``sql``): DIRAC's file catalog model on SQLite, MariaDB or PostgreSQL.

Entry point: ``dirac.catalogs`` ``sql = "dirac_plugins_catalog.sql:SQLFileCatalog"``. Its
tables come with the database migrations (0007, 0008); see
:mod:`dirac_plugins_catalog.sql.catalog` for the behaviour and
:mod:`dirac_core.db.tables.catalog` for the schema.
"""

from __future__ import annotations

from dirac_plugins_catalog.sql.access import POLICY, Action
from dirac_plugins_catalog.sql.catalog import SQLFileCatalog
from dirac_plugins_catalog.sql.options import CatalogOptions
from dirac_plugins_catalog.sql.usage import DirectoryUsage, SEUsage

__all__ = ["POLICY", "Action", "CatalogOptions", "DirectoryUsage", "SEUsage", "SQLFileCatalog"]

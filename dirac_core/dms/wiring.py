"""Building the data-management engines of an interware from its configuration.

:func:`build_catalog` loads each configured catalog's driver (``dirac.catalogs``) and joins
them in a :class:`~dirac_core.dms.filecatalog.FileCatalog`; a driver with ``from_section``
is built from its section, the interware's database and clock (the SQL catalog), one without
from its name (the memory catalog).
"""

from __future__ import annotations

from typing import Any

from dirac_core.config.model import Config
from dirac_core.db.database import Database
from dirac_core.dms.filecatalog import FileCatalog
from dirac_core.errors import ConfigError
from dirac_core.model.clock import Clock
from dirac_core.plugins.catalog import Catalog
from dirac_core.plugins.groups import PluginGroup
from dirac_core.plugins.loading import load_driver

__all__ = ["build_catalog"]


def build_catalog(config: Config, database: Database, clock: Clock) -> FileCatalog:
    """Every active catalog of ``config`` as one; ``ConfigError`` when none is configured."""
    sections = [s for s in config.resources.catalogs.values() if s.active]
    if not sections:
        raise ConfigError([("resources.catalogs", "no active file catalog is configured")])
    members: list[tuple[Any, Catalog]] = []
    for section in sections:
        driver = load_driver(PluginGroup.CATALOGS, section.type)
        from_section = getattr(driver, "from_section", None)
        catalog = (from_section(section, database, clock) if from_section is not None
                   else driver(section.name))
        members.append((section, catalog))
    return FileCatalog(members)

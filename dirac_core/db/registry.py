"""The list of every system's ``MetaData``: target of the migrations and of ``create_all``.

A new system defines its tables in ``dirac_core/db/tables/<system>.py`` with
``metadata = new_metadata("<system>")`` and adds that module here. Explicit
imports, not a registration side effect, so the list is the same whatever
was imported before.
"""

from __future__ import annotations

from sqlalchemy import MetaData

from dirac_core.db.tables import (
    accounting,
    auth,
    catalog,
    core,
    productions,
    requests,
    rss,
    staging,
    transformations,
    wms,
)

__all__ = ["all_metadata"]


def all_metadata() -> tuple[MetaData, ...]:
    """Every system's ``MetaData``, ``core`` first (later systems may refer to it)."""
    return (core.metadata, wms.metadata, auth.metadata, catalog.metadata, staging.metadata,
            requests.metadata, transformations.metadata, productions.metadata,
            rss.metadata, accounting.metadata)

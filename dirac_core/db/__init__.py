"""The database layer: engine setup, column types, schema conventions, migrations, leases.

SQLAlchemy Core only. :class:`Database` wraps an engine for SQLite,
MariaDB/MySQL or PostgreSQL; tables live in :mod:`dirac_core.db.tables`, one
``MetaData`` per system (:func:`new_metadata`); :func:`all_metadata` lists
them all for :meth:`Database.upgrade` (Alembic) and :meth:`Database.create_all`.
Logic functions such as :func:`acquire_lease` take a ``Connection`` and leave
the commit to the caller.
"""

from __future__ import annotations

from dirac_core.db.database import SUPPORTED_SCHEMES, Database, normalize_url
from dirac_core.db.leases import Lease, acquire_lease, get_lease, record_run, release_lease
from dirac_core.db.registry import all_metadata
from dirac_core.db.schema import NAMING_CONVENTION, check_table_names, new_metadata
from dirac_core.db.types import StrEnumType, UTCDateTime

__all__ = [
    "NAMING_CONVENTION",
    "SUPPORTED_SCHEMES",
    "Database",
    "Lease",
    "StrEnumType",
    "UTCDateTime",
    "acquire_lease",
    "all_metadata",
    "check_table_names",
    "get_lease",
    "new_metadata",
    "normalize_url",
    "record_run",
    "release_lease",
]

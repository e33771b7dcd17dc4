"""Schema conventions: constraint naming, one ``MetaData`` per system, the metadata registry.

Every system (``core``, ``wms``, ``dms``, ``rms``, ...) owns one
:class:`~sqlalchemy.MetaData` made by :func:`new_metadata`. All systems may
share one database (the embedded SQLite file does), so every table name
starts with its system's name and an underscore: ``core_task_leases``,
``wms_jobs``. :func:`check_table_names` enforces that rule.

Constraints and indexes get deterministic names from
:data:`NAMING_CONVENTION`, so that a migration can drop or alter them by name
on every backend, and so that autogenerate compares equal names.

:func:`dirac_core.db.registry.all_metadata` is the single list of every
system's metadata: the target of the Alembic migrations and of
``create_all``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sqlalchemy import MetaData

__all__ = ["NAMING_CONVENTION", "check_table_names", "new_metadata"]

#: Names for constraints and indexes. The tokens are SQLAlchemy's:
#: ``ix`` index, ``uq`` unique, ``ck`` check, ``fk`` foreign key, ``pk`` primary
#: key. Multi-column keys join all column names (``_N_`` tokens) so that two
#: indexes on one table never collide.
NAMING_CONVENTION: Mapping[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

_SYSTEM_NAME = re.compile(r"^[a-z][a-z0-9]*$")


def new_metadata(system: str) -> MetaData:
    """Return a fresh ``MetaData`` for ``system`` using :data:`NAMING_CONVENTION`.

    ``system`` is a short lowercase name (``"wms"``); it is kept in
    ``metadata.info["system"]`` and every table of the metadata must be named
    ``f"{system}_..."``. Raises ``ValueError`` for a name that is not a
    lowercase identifier without underscores.
    """
    if not _SYSTEM_NAME.match(system):
        raise ValueError(f"system name must be lowercase letters and digits, got {system!r}")
    return MetaData(naming_convention=dict(NAMING_CONVENTION), info={"system": system})


def check_table_names(metadata: MetaData) -> None:
    """Raise ``ValueError`` if a table of ``metadata`` lacks its system's prefix."""
    system = metadata.info.get("system")
    if not system:
        raise ValueError("metadata was not made by new_metadata(): no system in info")
    wrong = sorted(name for name in metadata.tables if not name.startswith(f"{system}_"))
    if wrong:
        raise ValueError(f"tables of system {system!r} must start with '{system}_': {wrong}")

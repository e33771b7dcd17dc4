"""Identities for the SQL catalog tests (importable: ``tests/catalog`` is not a package)."""

from __future__ import annotations

from dirac_core.config.registry import Property
from dirac_core.model.identity import Identity


def person(user: str, group: str, *properties: str) -> Identity:
    """An identity of the VO ``vo``."""
    return Identity(user=user, group=group, vo="vo", properties=frozenset(properties))


ADMIN = person("boss", "admins", Property.FILE_CATALOG_MANAGEMENT)

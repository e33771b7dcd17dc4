"""The entry-point groups through which dirac-core finds its plugins.

A *driver* group holds alternatives, one of which a configuration chooses by
name (``type = "batch"``); the *hooks* group holds implementations that are
all called. Third-party packages add plugins by declaring entry points in
these groups; nothing in the core imports a plugin by module path.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["DRIVER_GROUPS", "PluginGroup"]


class PluginGroup(StrEnum):
    """Every entry-point group dirac-core reads."""

    COMPUTING_ELEMENTS = "dirac.computing_elements"
    BATCH_SYSTEMS = "dirac.batch_systems"
    TRANSPORTS = "dirac.transports"
    STORAGE_PROTOCOLS = "dirac.storage_protocols"
    CATALOGS = "dirac.catalogs"
    IDENTITY_PROVIDERS = "dirac.identity_providers"
    SPLITTERS = "dirac.splitters"
    OPERATION_HANDLERS = "dirac.operation_handlers"
    POLICIES = "dirac.policies"
    MESSAGE_QUEUES = "dirac.message_queues"
    CONFIG_SECTIONS = "dirac.config_sections"
    HOOKS = "dirac.hooks"


#: Groups whose entry points are drivers (one chosen by name).
DRIVER_GROUPS: frozenset[PluginGroup] = frozenset(
    g for g in PluginGroup if g not in (PluginGroup.HOOKS, PluginGroup.CONFIG_SECTIONS)
)

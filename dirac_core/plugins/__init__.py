"""Plugin contracts, driver loading (stevedore) and hooks (pluggy)."""

from __future__ import annotations

from dirac_core.plugins.catalog import Catalog, FileEntry
from dirac_core.plugins.computing import CEStatus, ComputingElement, free_slots
from dirac_core.plugins.groups import DRIVER_GROUPS, PluginGroup
from dirac_core.plugins.hookspecs import hookimpl, hookspec
from dirac_core.plugins.loading import available, import_backend, load_driver
from dirac_core.plugins.manager import make_plugin_manager
from dirac_core.plugins.storage import FileStat, StorageProtocol

__all__ = [
    "DRIVER_GROUPS",
    "CEStatus",
    "Catalog",
    "ComputingElement",
    "FileEntry",
    "FileStat",
    "PluginGroup",
    "StorageProtocol",
    "available",
    "free_slots",
    "hookimpl",
    "hookspec",
    "import_backend",
    "load_driver",
    "make_plugin_manager",
]

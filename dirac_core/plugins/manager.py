"""Building the hook manager (pluggy)."""

from __future__ import annotations

from collections.abc import Iterable

import pluggy

from dirac_core.plugins import hookspecs
from dirac_core.plugins.builtin_hooks import TaskLogging
from dirac_core.plugins.groups import PluginGroup

__all__ = ["make_plugin_manager"]


def make_plugin_manager(plugins: Iterable[object] = (), *, entry_points: bool = True) -> pluggy.PluginManager:
    """A plugin manager with dirac-core's hookspecs and its built-in implementations.

    ``plugins`` are registered in addition; ``entry_points`` also loads every
    implementation declared in the ``dirac.hooks`` group. ``check_pending()``
    runs last, so an implementation whose name matches no hookspec (a typo)
    fails here, at start-up, rather than being silently never called.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    pm.register(TaskLogging(), name="dirac-core:task-logging")
    for plugin in plugins:
        pm.register(plugin)
    if entry_points:
        pm.load_setuptools_entrypoints(str(PluginGroup.HOOKS))
    pm.check_pending()
    return pm

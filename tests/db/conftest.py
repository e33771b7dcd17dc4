"""Make the database fixtures available until the package's pytest plugin loads them.

The ``dirac_core`` pytest plugin is meant to declare
``pytest_plugins = ["dirac_core.testing.databases"]``; once it does, this
hook finds the module registered and does nothing.
"""

from __future__ import annotations

import pytest

_PLUGIN = "dirac_core.testing.databases"


def pytest_configure(config: pytest.Config) -> None:
    if not config.pluginmanager.has_plugin(_PLUGIN):
        config.pluginmanager.import_plugin(_PLUGIN)

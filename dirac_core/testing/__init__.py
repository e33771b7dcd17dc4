"""Public testing helpers for dirac-core and for the authors of its plugins.

- :class:`FakeClock`, the clock tests drive by hand;
- in-memory drivers (:mod:`dirac_core.testing.memory`), also selectable as ``memory``;
- conformance suites (:mod:`dirac_core.testing.conformance`) every driver runs;
- a pytest plugin (:mod:`dirac_core.testing.pytest_plugin`): add
  ``pytest_plugins = ["dirac_core.testing.pytest_plugin"]`` to a ``conftest.py``
  to get the ``fake_clock``, ``db_url`` (SQLite, MariaDB, PostgreSQL) and
  ``database`` fixtures.

Importing this package does not import pytest.
"""

from __future__ import annotations

from dirac_core.model.clock import FakeClock
from dirac_core.testing.memory import MemoryCatalog, MemoryComputingElement, MemoryStorage

__all__ = ["FakeClock", "MemoryCatalog", "MemoryComputingElement", "MemoryStorage"]

"""The pytest plugin of dirac-core: fixtures for the library's tests and for plugin authors.

Enable it in a ``conftest.py`` with
``pytest_plugins = ["dirac_core.testing.pytest_plugin"]``. It provides

- ``fake_clock``: a :class:`~dirac_core.model.clock.FakeClock` at 2026-01-01 UTC;
- ``db_url``: parametrized over SQLite, MariaDB and PostgreSQL (a private
  database per test session on each server; see
  :mod:`dirac_core.testing.databases`);
- ``database``: a migrated :class:`~dirac_core.db.Database` on ``db_url``,
  emptied after each test.
"""

from __future__ import annotations

import pytest

from dirac_core.model.clock import FakeClock

pytest_plugins = ["dirac_core.testing.databases"]

__all__ = ["fake_clock"]


@pytest.fixture
def fake_clock() -> FakeClock:
    """A clock that moves only when the test says so."""
    return FakeClock()

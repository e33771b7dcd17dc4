from __future__ import annotations

import pytest

from dirac_core.db import Database
from dirac_core.testing.databases import empty_all_tables

pytest_plugins = ["dirac_core.testing.pytest_plugin"]


@pytest.fixture
def url(database: Database) -> str:
    """The URL of the backend's private database (migrated; emptied after the test)."""
    empty_all_tables(database)
    return database.url.render_as_string(hide_password=False)

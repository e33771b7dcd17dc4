"""An auth manager on every backend with the test grid of auth_helpers."""

from __future__ import annotations

import pytest
from auth_helpers import make_config

from dirac_core.auth import AuthManager
from dirac_core.config import Config
from dirac_core.db import Database
from dirac_core.model import FakeClock


@pytest.fixture
def auth_config() -> Config:
    """The auth tests' configuration."""
    return make_config()


@pytest.fixture
def manager(database: Database, auth_config: Config, fake_clock: FakeClock) -> AuthManager:
    """An auth manager on the backend under test and the fake clock."""
    return AuthManager(database=database, config=auth_config, clock=fake_clock)

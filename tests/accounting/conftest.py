"""An embedded interware (its configuration: local CE, two file SEs, SQL catalog) on every backend,
with a fake clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from dirac_core.config import load_config
from dirac_core.db import Database
from dirac_core.interware import EMBEDDED_CONFIG, Interware
from dirac_core.model import FakeClock
from dirac_core.plugins.manager import make_plugin_manager


@pytest.fixture
def iw(database: Database, fake_clock: FakeClock, tmp_path: Path) -> Iterator[Interware]:
    """The embedded configuration on the backend under test (files under ``tmp_path/site``)."""
    root = tmp_path / "site"
    (root / "storage").mkdir(parents=True)
    url = database.url.render_as_string(hide_password=False)
    text = EMBEDDED_CONFIG.format(root=root.as_posix()).replace(
        f'url = "sqlite:///{root.as_posix()}/dirac.sqlite"', f'url = "{url}"')
    interware = Interware(config=load_config(text, format="toml"), database=database, clock=fake_clock,
                          hooks=make_plugin_manager(()))
    with interware:  # closing disposes of the pool only: the fixture's database stays usable
        yield interware

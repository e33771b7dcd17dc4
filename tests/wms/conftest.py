"""A WMS on every backend with a small grid: three sites, tape and disk SEs, several groups."""

from __future__ import annotations

import random

import pytest
from wms_helpers import GRID

from dirac_core.config import Config, load_config
from dirac_core.db import Database
from dirac_core.model import FakeClock
from dirac_core.plugins.catalog import FileEntry
from dirac_core.plugins.manager import make_plugin_manager
from dirac_core.testing.memory import MemoryCatalog
from dirac_core.wms import WorkloadManager


@pytest.fixture
def grid_config() -> Config:
    """The test grid's configuration."""
    return load_config(GRID, format="toml")


@pytest.fixture
def catalog() -> MemoryCatalog:
    """A catalog with /demo/disk-a on SE-A, /demo/both on SE-A and SE-B-disk, /demo/tape on tape."""
    cat = MemoryCatalog()
    files = {"/demo/disk-a": ["SE-A"], "/demo/both": ["SE-A", "SE-B-disk"],
             "/demo/tape": ["SE-B-tape"], "/demo/b-disk": ["SE-B-disk"]}
    cat.add_files([FileEntry(lfn=lfn, size=1) for lfn in files]).raise_for_failures()
    cat.add_replicas(files).raise_for_failures()
    return cat


@pytest.fixture
def wms(database: Database, grid_config: Config, fake_clock: FakeClock,
        catalog: MemoryCatalog) -> WorkloadManager:
    """A workload manager on the backend under test, a fake clock and a seeded random source."""
    return WorkloadManager(database=database, config=grid_config, clock=fake_clock,
                           hooks=make_plugin_manager(()), catalog=catalog, rng=random.Random(7))



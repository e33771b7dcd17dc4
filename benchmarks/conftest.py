from __future__ import annotations

from collections.abc import Iterator

import pytest
from bench_cpu import python_speed, steal_reading, steal_share

from dirac_core.db import Database
from dirac_core.testing.databases import empty_all_tables

pytest_plugins = ["dirac_core.testing.pytest_plugin"]


@pytest.fixture
def url(database: Database) -> str:
    """The URL of the backend's private database (migrated; emptied after the test)."""
    empty_all_tables(database)
    return database.url.render_as_string(hide_password=False)


@pytest.fixture(scope="session", autouse=True)
def _machine_speed() -> Iterator[None]:
    """Print how fast the machine ran Python before and after the benchmarks, and how much of
    its CPU time went elsewhere meanwhile: figures of two days compare only at a like speed."""
    before, stolen = python_speed(), steal_reading()
    print(f"\n[machine] Python speed at the start: {before:.1f} M additions/s")
    yield
    print(f"\n[machine] Python speed at the end: {python_speed():.1f} M additions/s; "
          f"CPU time stolen by the hypervisor meanwhile: {steal_share(stolen, steal_reading()):.1%}")

"""Shared fixtures for the configuration tests."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


@pytest.fixture
def examples() -> Path:
    """The folder of example configurations shipped in the docs."""
    return EXAMPLES


@pytest.fixture
def site_data() -> dict[str, Any]:
    """The plain data of ``docs/examples/site.toml`` (a fresh copy per test)."""
    with (EXAMPLES / "site.toml").open("rb") as f:
        return tomllib.load(f)

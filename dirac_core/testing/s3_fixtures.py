"""Pytest fixtures around a real S3 endpoint (:mod:`dirac_core.testing.s3`).

- ``s3_server`` (session): an :class:`~dirac_core.testing.s3.S3Server`, one
  moto server on a loopback port with one bucket, started once per test
  session and stopped at its end. Tests sharing it keep apart by using
  their own key prefix.

Use it from a root ``conftest.py`` with
``pytest_plugins = ["dirac_core.testing.s3_fixtures"]`` (or ``pytest -p
dirac_core.testing.s3_fixtures``). When ``moto[server]`` is not installed
or the server does not start, tests using it are skipped, except when
``CI=true``: then they fail (:func:`~dirac_core.testing.databases.skip_or_fail`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from dirac_core.testing import s3 as s3_harness
from dirac_core.testing.databases import skip_or_fail
from dirac_core.testing.s3 import ComponentUnavailable, S3Server, moto_missing

__all__ = ["s3_server"]


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """A running moto S3 server with one bucket for the whole session (skipped, or failed in CI)."""
    missing = moto_missing()
    if missing:
        skip_or_fail(f"S3 server unavailable: {missing}")
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(s3_harness.s3_server(tmp_path_factory.mktemp("s3")))
        except ComponentUnavailable as exc:
            skip_or_fail(f"S3 server did not start: {exc}")
        yield server

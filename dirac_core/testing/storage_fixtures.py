"""Pytest fixtures that run real storage servers for the storage-protocol drivers.

Enable it in a ``conftest.py`` with
``pytest_plugins = ["dirac_core.testing.storage_fixtures"]`` (or ``-p
dirac_core.testing.storage_fixtures`` on the command line).

- ``xrootd_server`` (session): an :class:`~dirac_core.testing.xrootd.XRootDServer`
  answering ``root://`` and ``https://``/``davs://`` on two loopback ports,
  started once per session; its log is kept in the session's temporary
  folder ``xrootd*``.

A server that is missing or does not start skips the tests that need it,
except when ``CI=true``: then they fail, since CI must never skip silently.
Debian packages: ``xrootd-server``, ``xrootd-server-plugins`` (XrdHttp),
``xrootd-client`` (``xrdcp``, used by benchmarks).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest

from dirac_core.testing import xrootd as xrootd_harness
from dirac_core.testing._daemons import ComponentUnavailable
from dirac_core.testing.databases import skip_or_fail

__all__ = ["xrootd_server"]


@pytest.fixture(scope="session")
def xrootd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[xrootd_harness.XRootDServer]:
    """An XRootD server with HTTPS/WebDAV for the session (skipped, or failed in CI, when it cannot run)."""
    with ExitStack() as stack:
        try:
            server = stack.enter_context(xrootd_harness.xrootd_server(tmp_path_factory.mktemp("xrootd")))
        except ComponentUnavailable as exc:
            skip_or_fail(f"XRootD server unavailable: {exc}")
        yield server

"""Pytest fixtures around a real OpenID provider (:mod:`dirac_core.testing.oidc`).

- ``oidc_server`` (session): an :class:`~dirac_core.testing.oidc.OidcServer`,
  one ``oidc-provider`` over http on a loopback port, started once per test
  session and stopped at its end. Tests keep apart by registering their own
  client (:meth:`~dirac_core.testing.oidc.OidcServer.register_client`) and
  their own accounts (:meth:`~dirac_core.testing.oidc.OidcServer.add_account`,
  with subjects of their own).

Use it from a root ``conftest.py`` with
``pytest_plugins = ["dirac_core.testing.oidc_fixtures"]``. When Node.js or
npm is missing, npm cannot install the package or the provider does not
start, tests using it are skipped, except when ``CI=true``: then they fail
(:func:`~dirac_core.testing.databases.skip_or_fail`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest

from dirac_core.testing.databases import skip_or_fail
from dirac_core.testing.oidc import ComponentUnavailable, OidcServer, oidc_missing, oidc_provider

__all__ = ["oidc_server"]


@pytest.fixture(scope="session")
def oidc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OidcServer]:
    """A running OpenID provider for the whole session (skipped, or failed in CI, when it cannot run)."""
    missing = oidc_missing()
    if missing:
        skip_or_fail(f"OpenID provider unavailable: {missing}")
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(oidc_provider(tmp_path_factory.mktemp("oidc")))
        except ComponentUnavailable as exc:
            skip_or_fail(f"OpenID provider did not start: {exc}")
        yield server

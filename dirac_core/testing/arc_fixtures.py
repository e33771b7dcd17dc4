"""Pytest fixtures around a real ARC CE (:mod:`dirac_core.testing.arc`).

- ``arc_server`` (session): an :class:`~dirac_core.testing.arc.ArcServer`, one
  A-REX with LRMS fork started once per test session and stopped at its end.
  It lives in a ``/tmp/dirac-arc-*`` folder (jobs run as ``nobody``, who
  cannot enter pytest's private temporary folders), removed at the end after
  its logs are copied to the session's ``tmp_path_factory`` folder
  ``arc-logs*``.

Use it from a root ``conftest.py`` with
``pytest_plugins = ["dirac_core.testing.arc_fixtures"]``, or import the
fixture into a test module (``from dirac_core.testing.arc_fixtures import
arc_server``). When A-REX is not installed, this process is not root or the
daemons do not start, tests using it are skipped, except when ``CI=true``:
then they fail (:func:`~dirac_core.testing.databases.skip_or_fail`).
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from dirac_core.testing.arc import ArcServer, ArcUnavailable, arc_ce, arc_missing
from dirac_core.testing.databases import skip_or_fail

__all__ = ["arc_server"]


@pytest.fixture(scope="session")
def arc_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ArcServer]:
    """A running A-REX for the whole session (skipped, or failed in CI, when it cannot run)."""
    missing = arc_missing()
    if missing:
        skip_or_fail(f"ARC CE unavailable: {missing}")
    folder = Path(tempfile.mkdtemp(prefix="dirac-arc-"))
    try:
        with contextlib.ExitStack() as stack:
            try:
                server = stack.enter_context(arc_ce(folder))
            except ArcUnavailable as exc:
                skip_or_fail(f"ARC CE did not start: {exc}")
            yield server
    finally:
        with contextlib.suppress(OSError):
            shutil.copytree(folder / "log", tmp_path_factory.mktemp("arc-logs"), dirs_exist_ok=True)
        shutil.rmtree(folder, ignore_errors=True)

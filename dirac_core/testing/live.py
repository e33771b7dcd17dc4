"""Pytest fixtures that run real components: a SLURM cluster and an SSH server.

Enable it in a ``conftest.py`` with ``pytest_plugins = ["dirac_core.testing.live"]``.

- ``slurm_cluster`` (session): a :class:`~dirac_core.testing.slurm.SlurmCluster`,
  one node and one partition, started once per session. With
  ``DIRAC_TEST_MYSQL_URL`` set it runs ``slurmdbd`` on that server so that
  ``sacct`` works; if accounting cannot run, the cluster runs without it and
  ``accounting_problem`` says why;
- ``slurm_accounting`` (session): the same cluster, for tests that need ``sacct``;
- ``sshd_server`` (session): a :class:`~dirac_core.testing.sshd.SshdServer`
  on a loopback port, accepting the current user with the key it made.

A component that is missing or does not start skips the tests that need it,
except when ``CI=true``: then they fail, since CI must never skip silently.
Debian packages: ``slurm-wlm``, ``munge``, ``slurmdbd``, ``openssh-server``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack

import attrs
import pytest

from dirac_core.testing import slurm as slurm_harness
from dirac_core.testing import sshd as sshd_harness
from dirac_core.testing._daemons import ComponentUnavailable
from dirac_core.testing.databases import skip_or_fail

__all__ = ["slurm_accounting", "slurm_cluster", "sshd_server"]


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[slurm_harness.SlurmCluster]:
    """A one-node SLURM cluster for the session (with accounting when a MySQL server is configured)."""
    accounting_db = os.environ.get("DIRAC_TEST_MYSQL_URL", "").strip() or None
    with ExitStack() as stack:
        problem = None
        try:
            try:
                cluster = stack.enter_context(slurm_harness.slurm_cluster(
                    tmp_path_factory.mktemp("slurm"), accounting_db=accounting_db))
            except slurm_harness.AccountingUnavailable as exc:
                problem = f"SLURM accounting unavailable: {exc}"
                cluster = stack.enter_context(slurm_harness.slurm_cluster(
                    tmp_path_factory.mktemp("slurm-noacct")))
        except ComponentUnavailable as exc:
            skip_or_fail(f"SLURM cluster unavailable: {exc}")
        if accounting_db is None:
            problem = "SLURM accounting needs DIRAC_TEST_MYSQL_URL (a MariaDB/MySQL server for slurmdbd)"
        yield attrs.evolve(cluster, accounting_problem=None if cluster.accounting else problem)


@pytest.fixture(scope="session")
def slurm_accounting(slurm_cluster: slurm_harness.SlurmCluster) -> slurm_harness.SlurmCluster:
    """The session's SLURM cluster, which must have accounting (``sacct``), else skip or fail."""
    if not slurm_cluster.accounting:
        skip_or_fail(slurm_cluster.accounting_problem or "SLURM accounting unavailable")
    return slurm_cluster


@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sshd_harness.SshdServer]:
    """An OpenSSH server on 127.0.0.1 for the session, accepting the key it made for the current user."""
    with ExitStack() as stack:
        try:
            server = stack.enter_context(sshd_harness.sshd_server(tmp_path_factory.mktemp("sshd")))
        except ComponentUnavailable as exc:
            skip_or_fail(f"sshd unavailable: {exc}")
        yield server

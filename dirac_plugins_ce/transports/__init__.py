"""Transports: how batch commands reach the machine that has them.

- :class:`LocalTransport` (``local``) runs commands on this machine;
- :class:`SSHTransport` (``ssh``) runs them on a login node over one
  persistent SSH connection (needs ``paramiko``: ``pip install 'dirac-core[ssh]'``).

Both take an optional ``environment`` mapping that every command they run
receives, e.g. ``{"SLURM_CONF": "/etc/slurm/test.conf"}``.
"""

from __future__ import annotations

from dirac_plugins_ce.transports.local import LocalTransport
from dirac_plugins_ce.transports.ssh import SSHTransport

__all__ = ["LocalTransport", "SSHTransport"]

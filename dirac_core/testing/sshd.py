"""A real OpenSSH server on a loopback port, for tests of SSH transports.

:func:`sshd_server` makes a host key and a client key with ``ssh-keygen``,
writes an ``sshd_config`` that listens on ``127.0.0.1`` on a free port and
accepts only that client key (for the effective user, ``root`` included,
``PermitRootLogin prohibit-password``), runs ``sshd -D`` and waits until it
greets. A ``known_hosts`` file naming its host key lets clients check it
strictly. It installs nothing: it needs OpenSSH's ``sshd`` and
``ssh-keygen`` (Debian: ``openssh-server``) and raises
:class:`ComponentUnavailable` when they are missing or the server does not
start. The server runs with ``UsePAM no``, so the account must not be
locked (a ``!`` password field).
"""

from __future__ import annotations

import functools
import os
import pwd
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from attrs import frozen

from dirac_core.testing._daemons import (
    ComponentUnavailable,
    Daemon,
    free_port,
    require_binaries,
    run_checked,
    wait_until,
)

__all__ = ["ComponentUnavailable", "SshdServer", "sshd_server"]

#: The privilege-separation folder OpenSSH requires (Debian's location).
PRIVSEP_DIR = Path("/run/sshd")
_START_ATTEMPTS = 3


@frozen(kw_only=True)
class SshdServer:
    """Where the test server listens and the files a client needs to log in."""

    host: str
    port: int
    user: str
    client_key: Path
    known_hosts: Path
    log_path: Path


def _keygen(ssh_keygen: str, path: Path, comment: str) -> None:
    run_checked([ssh_keygen, "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])


def _greets(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            return sock.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def _config(folder: Path, port: int) -> str:
    return "\n".join([
        f"Port {port}",
        "ListenAddress 127.0.0.1",
        f"HostKey {folder / 'host_key'}",
        f"PidFile {folder / 'sshd.pid'}",
        f"AuthorizedKeysFile {folder / 'authorized_keys'}",
        "PermitRootLogin prohibit-password",
        "PubkeyAuthentication yes",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        # the files live in a pytest folder under the world-writable /tmp
        "StrictModes no",
        "Subsystem sftp internal-sftp",
        "MaxSessions 50",
        "MaxStartups 50",
        "LogLevel VERBOSE",
        "",
    ])


@contextmanager
def sshd_server(tmp_dir: Path, *, start_timeout: float = 20) -> Iterator[SshdServer]:
    """Run ``sshd`` on 127.0.0.1 with files in ``tmp_dir`` until the block ends.

    Raises :class:`ComponentUnavailable` when OpenSSH is missing or the
    server does not accept connections within ``start_timeout`` seconds;
    the server is stopped on exit, whatever happened.
    """
    programs = require_binaries(["sshd", "ssh-keygen"])
    folder = Path(tmp_dir) / "sshd"
    folder.mkdir(parents=True, exist_ok=True)
    user = pwd.getpwuid(os.geteuid()).pw_name
    _keygen(programs["ssh-keygen"], folder / "host_key", "dirac-test-host")
    _keygen(programs["ssh-keygen"], folder / "client_key", "dirac-test-client")
    authorized = folder / "authorized_keys"
    authorized.write_text((folder / "client_key.pub").read_text())
    authorized.chmod(0o600)
    if os.geteuid() == 0:
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
    host_key = (folder / "host_key.pub").read_text().split()
    log_path = folder / "sshd.log"
    failure = "not started"
    for _attempt in range(_START_ATTEMPTS):
        # a free port may be taken between our probe and sshd's bind: try another one
        port = free_port()
        config = folder / "sshd_config"
        config.write_text(_config(folder, port))
        daemon = Daemon("sshd", [programs["sshd"], "-D", "-e", "-f", str(config)], log_path=log_path)
        try:
            wait_until(functools.partial(_greets, port), timeout=start_timeout, what=f"sshd on port {port}",
                       alive=daemon.dead, interval=0.1)
        except ComponentUnavailable as exc:
            daemon.stop()
            failure = str(exc)
            continue
        known_hosts = folder / "known_hosts"
        known_hosts.write_text(f"[127.0.0.1]:{port} {host_key[0]} {host_key[1]}\n")
        try:
            yield SshdServer(host="127.0.0.1", port=port, user=user, client_key=folder / "client_key",
                             known_hosts=known_hosts, log_path=log_path)
        finally:
            daemon.stop()
        return
    raise ComponentUnavailable(f"sshd would not start: {failure}")


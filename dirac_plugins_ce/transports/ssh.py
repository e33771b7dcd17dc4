"""Run batch commands and move files on a login node over SSH (paramiko).

One connection per transport is opened on first use and shared by every
thread: each command gets its own SSH channel, each file operation its own
SFTP session. A connection found dead is reopened once before a command or
file operation starts; a command that has started is never run twice.

Host keys are checked: an unknown host is refused unless it is listed in
``known_hosts`` (or the user's ``~/.ssh/known_hosts`` when none is given),
or the caller chose ``host_key_policy="accept-new"``, which trusts a host
seen for the first time and records its key in ``known_hosts`` (in memory
only when no file is given), like OpenSSH's ``StrictHostKeyChecking=accept-new``.
A changed key is always refused.

The remote account's login shell must be a POSIX shell: commands are sent
as one string quoted with :func:`shlex.join`.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import select
import shlex
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from types import ModuleType
from typing import Any, Literal, TypeVar

from dirac_core.errors import CEError, CEUnreachable, NotFound
from dirac_core.plugins.groups import PluginGroup
from dirac_core.plugins.loading import import_backend
from dirac_core.plugins.transport import CommandResult, Transport
from dirac_plugins_ce.transports._environment import check_environment, env_prefix

__all__ = ["HostKeyPolicy", "SSHTransport"]

log = logging.getLogger(__name__)

HostKeyPolicy = Literal["reject", "accept-new"]
_T = TypeVar("_T")
_CHUNK = 32768
#: How long to wait between attempts to send stdin when the channel's window is full.
_SEND_POLL = 0.05


class SSHTransport(Transport):
    """Commands and files on ``user@host:port`` over one persistent SSH connection.

    Authentication uses ``key_file`` when given (and nothing else), otherwise
    the SSH agent and the user's default keys. ``environment`` is added to
    every command's environment with an ``env NAME=VALUE`` prefix. Every
    failure to connect or authenticate, and every command that outlives its
    timeout, raises :class:`CEUnreachable` with ``host`` and ``port`` fields
    (never a key's content). A missing ``paramiko`` raises
    :class:`~dirac_core.errors.PluginUnavailable` on first use.
    """

    def __init__(self, *, host: str, port: int = 22, user: str | None = None,
                 key_file: str | None = None, known_hosts: str | None = None,
                 host_key_policy: HostKeyPolicy = "reject", connect_timeout: float = 10.0,
                 environment: Mapping[str, str] | None = None) -> None:
        """Raises ``ValueError`` for an unknown host key policy or environment variable name."""
        if host_key_policy not in ("reject", "accept-new"):
            raise ValueError(f"host_key_policy must be 'reject' or 'accept-new', not {host_key_policy!r}")
        self.host = host
        self.port = port
        self.user = user
        self.key_file = key_file
        self.known_hosts = known_hosts
        self.host_key_policy: HostKeyPolicy = host_key_policy
        self.connect_timeout = connect_timeout
        self._environment = check_environment(environment)
        self._lock = threading.Lock()
        self._client: Any = None

    @property
    def environment(self) -> dict[str, str]:
        """The variables added to every command's environment."""
        return dict(self._environment)

    # -- connection ------------------------------------------------------

    def _paramiko(self) -> ModuleType:
        return import_backend("paramiko", group=PluginGroup.TRANSPORTS, name="ssh")

    def _where(self) -> str:
        return f"{self.user + '@' if self.user else ''}{self.host}:{self.port}"

    def _unreachable(self, reason: str, exc: BaseException | None = None) -> CEUnreachable:
        detail = f": {exc}" if exc is not None and str(exc) else ""
        return CEUnreachable(f"cannot reach {self._where()} over SSH: {reason}{detail}",
                             host=self.host, port=self.port, user=self.user)

    def _connect(self) -> Any:
        paramiko = self._paramiko()
        client = paramiko.SSHClient()
        if self.known_hosts is not None:
            if self.host_key_policy == "accept-new":
                Path(self.known_hosts).touch(mode=0o600, exist_ok=True)
            try:
                client.load_host_keys(self.known_hosts)
            except OSError as exc:
                raise self._unreachable(f"cannot read known_hosts file {self.known_hosts}", exc) from exc
        else:
            client.load_system_host_keys()
        policy = paramiko.AutoAddPolicy() if self.host_key_policy == "accept-new" else paramiko.RejectPolicy()
        client.set_missing_host_key_policy(policy)
        use_defaults = self.key_file is None
        try:
            client.connect(self.host, port=self.port, username=self.user, key_filename=self.key_file,
                           timeout=self.connect_timeout, banner_timeout=self.connect_timeout,
                           auth_timeout=self.connect_timeout, channel_timeout=self.connect_timeout,
                           allow_agent=use_defaults, look_for_keys=use_defaults)
        except paramiko.AuthenticationException as exc:
            client.close()
            raise self._unreachable("authentication failed", exc) from exc
        except paramiko.BadHostKeyException as exc:
            client.close()
            raise self._unreachable("the host key does not match known_hosts") from exc
        except socket.gaierror as exc:
            client.close()
            raise self._unreachable("cannot resolve the host name", exc) from exc
        except TimeoutError as exc:
            client.close()
            raise self._unreachable(f"no answer within {self.connect_timeout} s") from exc
        except (paramiko.SSHException, EOFError, OSError) as exc:
            client.close()
            raise self._unreachable("connection failed", exc) from exc
        transport = client.get_transport()
        if transport is not None:
            transport.set_keepalive(30)
        log.debug("connected to %s", self._where())
        return client

    def _live_client(self) -> Any:
        with self._lock:
            client = self._client
            if client is not None:
                transport = client.get_transport()
                if transport is not None and transport.is_active():
                    return client
                client.close()
                self._client = None
            self._client = self._connect()
            return self._client

    def _forget(self, client: Any) -> None:
        with self._lock:
            if self._client is client:
                self._client = None
        client.close()

    def _open(self, opener: Callable[[Any], _T]) -> _T:
        """``opener(client)`` on a live connection, reconnecting once if the connection dropped."""
        paramiko = self._paramiko()
        client = self._live_client()
        try:
            return opener(client)
        except (paramiko.SSHException, EOFError, OSError) as first:
            log.info("connection to %s dropped (%s); reconnecting", self._where(), first)
            self._forget(client)
        client = self._live_client()
        try:
            return opener(client)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            self._forget(client)
            raise self._unreachable("the connection dropped", exc) from exc

    def _new_session(self, client: Any) -> Any:
        transport = client.get_transport()
        if transport is None:  # closed by another thread meanwhile
            raise self._paramiko().SSHException("the connection is closed")
        return transport.open_session(timeout=self.connect_timeout)

    def close(self) -> None:
        """Close the connection; a later call opens a new one."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()

    # -- commands --------------------------------------------------------

    def run(self, argv: Sequence[str], *, stdin: str | None = None,
            timeout: float = 120) -> CommandResult:
        """Run ``argv`` through the remote account's shell, at most ``timeout`` seconds.

        Raises :class:`CEUnreachable` when the host cannot be reached or the
        command does not finish in time (its channel is then closed), and
        ``ValueError`` for an empty ``argv``. A nonzero exit is not an
        error here: see :meth:`CommandResult.check`.
        """
        args = tuple(argv)
        if not args:
            raise ValueError("cannot run an empty command")
        command = shlex.join([*env_prefix(self._environment), *args])
        log.debug("running on %s: %s", self._where(), command)
        paramiko = self._paramiko()
        channel = self._open(self._new_session)
        try:
            channel.exec_command(command)
            returncode, out, err = _exchange(channel, (stdin or "").encode("utf-8"),
                                             deadline=time.monotonic() + timeout)
        except _Timeout as exc:
            raise CEUnreachable(f"{shlex.join(args)} on {self._where()} did not finish within {timeout} s",
                                host=self.host, port=self.port, user=self.user,
                                command=shlex.join(args), timeout=timeout) from exc
        except (paramiko.SSHException, EOFError, OSError) as exc:
            raise self._unreachable(f"the connection dropped while running {args[0]}", exc) from exc
        finally:
            channel.close()
        return CommandResult(argv=args, returncode=returncode,
                             stdout=out.decode("utf-8", errors="replace"),
                             stderr=err.decode("utf-8", errors="replace"))

    # -- files -----------------------------------------------------------

    def _sftp_call(self, path: str, action: Callable[[Any], _T]) -> _T:
        paramiko = self._paramiko()
        sftp = self._open(lambda client: client.open_sftp())
        try:
            return action(sftp)
        except FileNotFoundError as exc:
            raise NotFound(f"no file {path} on {self._where()}", path=path, host=self.host) from exc
        except (paramiko.SSHException, EOFError, ConnectionError, TimeoutError) as exc:
            raise self._unreachable(f"the connection dropped while accessing {path}", exc) from exc
        except OSError as exc:
            raise CEError(f"cannot access {path} on {self._where()}: {exc.strerror or exc}",
                          path=path, host=self.host) from exc
        finally:
            sftp.close()

    def write_file(self, path: str, content: str, *, mode: int = 0o644) -> None:
        """Create or replace ``path`` with ``content`` (UTF-8) over SFTP, parents created.

        The content goes to a temporary name first and is renamed into place
        (the ``posix-rename@openssh.com`` extension), so readers never see a
        partial file. Relative paths are relative to the remote home. Raises
        :class:`CEError` when it cannot be written, :class:`CEUnreachable`
        when the host cannot be reached.
        """
        target = PurePosixPath(path)
        tmp = str(target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp"))

        def write(sftp: Any) -> None:
            _makedirs(sftp, target.parent)
            try:
                with sftp.open(tmp, "w") as handle:
                    handle.write(content.encode("utf-8"))
                sftp.chmod(tmp, mode)
                sftp.posix_rename(tmp, path)
            except BaseException:
                # never written, or the connection is gone: nothing to clean
                with contextlib.suppress(OSError):
                    sftp.remove(tmp)
                raise

        self._sftp_call(path, write)

    def read_file(self, path: str) -> str:
        """The text of ``path`` (UTF-8, undecodable bytes replaced), read over SFTP.

        Raises :class:`NotFound` when it does not exist, :class:`CEError` when
        it cannot be read, :class:`CEUnreachable` when the host cannot be reached.
        """
        def read(sftp: Any) -> str:
            with sftp.open(path, "r") as handle:
                data: bytes = handle.read()
            return data.decode("utf-8", errors="replace")

        return self._sftp_call(path, read)

    def __repr__(self) -> str:
        return f"SSHTransport({self._where()}, host_key_policy={self.host_key_policy!r})"


class _Timeout(Exception):
    """The command outlived its deadline."""


def _exchange(channel: Any, stdin: bytes, *, deadline: float) -> tuple[int, bytes, bytes]:
    """Feed ``stdin`` and collect stdout, stderr and the exit status of a started command.

    Both streams are drained as data comes, so a command writing much on one
    of them never blocks on a full SSH window. Raises :class:`_Timeout` at
    ``deadline``.
    """
    out: list[bytes] = []
    err: list[bytes] = []
    pending = stdin
    if not pending:
        channel.shutdown_write()
    while True:
        if pending and channel.send_ready():
            sent = channel.send(pending[:_CHUNK])
            pending = pending[sent:]
            if not pending:
                channel.shutdown_write()
        if channel.recv_ready():
            out.append(channel.recv(_CHUNK))
            continue
        if channel.recv_stderr_ready():
            err.append(channel.recv_stderr(_CHUNK))
            continue
        remaining = deadline - time.monotonic()
        if channel.eof_received or channel.closed:
            if channel.status_event.wait(max(remaining, 0)):
                break
            raise _Timeout
        if remaining <= 0:
            raise _Timeout
        # the channel's file descriptor is readable when data or EOF arrives
        select.select([channel], [], [], min(remaining, _SEND_POLL) if pending else remaining)
    # data that arrived together with the end of the command
    while channel.recv_ready():
        out.append(channel.recv(_CHUNK))
    while channel.recv_stderr_ready():
        err.append(channel.recv_stderr(_CHUNK))
    return int(channel.recv_exit_status()), b"".join(out), b"".join(err)


def _makedirs(sftp: Any, directory: PurePosixPath) -> None:
    """Create ``directory`` and its missing parents over SFTP."""
    missing: list[PurePosixPath] = []
    current = directory
    while str(current) not in ("/", ".", ""):
        try:
            sftp.stat(str(current))
            break
        except FileNotFoundError:
            missing.append(current)
            current = current.parent
    for folder in reversed(missing):
        try:
            sftp.mkdir(str(folder))
        except OSError:
            sftp.stat(str(folder))  # made meanwhile by someone else: fine; else this raises

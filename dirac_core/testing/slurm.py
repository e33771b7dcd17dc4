"""A real single-node SLURM cluster for tests of batch-system drivers.

:func:`slurm_cluster` runs, as children of this process and with every file
in a temporary folder: its own ``munged`` (own key and socket), optionally
``slurmdbd`` on a MariaDB/MySQL server (then ``sacct`` works), ``slurmctld``
and ``slurmd`` for one node named after this host with one partition. It
waits until the node is idle, and on exit cancels the jobs left, stops the
daemons and drops the accounting database. It installs nothing: it needs
Debian's ``slurm-wlm`` and ``munge`` (and ``slurmdbd`` for accounting) and
raises :class:`ComponentUnavailable` when they are missing or do not start.
Daemons run as the current user, which must be root (``SlurmUser=root``).

Commands reach the cluster with ``SLURM_CONF`` set: ``cluster.env``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path

from attrs import frozen
from sqlalchemy import URL, Engine, create_engine, make_url, text
from sqlalchemy.exc import SQLAlchemyError

from dirac_core.testing._daemons import (
    ComponentUnavailable,
    Daemon,
    free_port,
    require_binaries,
    run_checked,
    wait_until,
)

__all__ = ["AccountingUnavailable", "ComponentUnavailable", "SlurmCluster", "slurm_cluster"]

_CLUSTER = "dirac"
_SOCKET_MAX = 100  # sun_path holds 108 bytes; keep a margin
_SERVER_BINARIES = ("munged", "slurmctld", "slurmd", "sinfo", "squeue", "scancel")
_ACCOUNTING_BINARIES = ("slurmdbd", "sacctmgr")


class AccountingUnavailable(ComponentUnavailable):
    """``slurmdbd`` (accounting, hence ``sacct``) cannot be provided; the cluster can run without it."""


@frozen(kw_only=True)
class SlurmCluster:
    """A running test cluster: its configuration and what a client needs."""

    conf_path: Path
    partition: str
    node: str
    cpus: int
    accounting: bool
    log_dir: Path
    #: Why accounting is missing, when it was asked for and could not run.
    accounting_problem: str | None = None

    @property
    def env(self) -> dict[str, str]:
        """The environment that points SLURM's commands at this cluster."""
        return {"SLURM_CONF": str(self.conf_path)}


def _memory_mb() -> int:
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20
    except (ValueError, OSError):
        total = 1024
    return max(256, min(4000, int(total * 0.8)))


def _munge_dir(folder: Path, stack: ExitStack) -> Path:
    """A folder for munged's socket, short enough for a Unix socket path."""
    munge = folder / "munge"
    if len(str(munge / "munge.socket")) > _SOCKET_MAX:
        munge = Path(tempfile.mkdtemp(prefix="munge-"))
        stack.callback(_remove_tree, munge)
    munge.mkdir(exist_ok=True)
    munge.chmod(0o755)  # munged insists that every user can reach its socket
    return munge


def _remove_tree(path: Path) -> None:
    for child in sorted(path.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        if child.is_dir() and not child.is_symlink():
            child.rmdir()
        else:
            child.unlink(missing_ok=True)
    path.rmdir()


def _start_munge(programs: Mapping[str, str], munge: Path, stack: ExitStack) -> Path:
    key = munge / "munge.key"
    key.write_bytes(secrets.token_bytes(1024))
    key.chmod(0o400)
    sock = munge / "munge.socket"
    daemon = Daemon("munged", [
        programs["munged"], "--foreground", "--force", f"--socket={sock}", f"--key-file={key}",
        f"--pid-file={munge / 'munged.pid'}", f"--log-file={munge / 'munged.log'}",
        f"--seed-file={munge / 'munged.seed'}", "--num-threads=4",
    ], log_path=munge / "munged.out")
    stack.callback(daemon.stop)
    wait_until(sock.exists, timeout=10, what="munged", alive=daemon.dead)
    return sock


def _slurm_conf(*, folder: Path, munge_socket: Path, node: str, cpus: int,
                dbd_port: int | None) -> str:
    ctld_port, slurmd_port = free_port(), free_port()
    lines = [
        f"ClusterName={_CLUSTER}",
        f"SlurmctldHost={node}(127.0.0.1)",
        "SlurmUser=root",
        "SlurmdUser=root",
        f"SlurmctldPort={ctld_port}",
        f"SlurmdPort={slurmd_port}",
        "AuthType=auth/munge",
        f"AuthInfo=socket={munge_socket}",
        "CredType=cred/munge",
        f"StateSaveLocation={folder / 'state'}",
        f"SlurmdSpoolDir={folder / 'spool'}",
        f"SlurmctldPidFile={folder / 'run' / 'slurmctld.pid'}",
        f"SlurmdPidFile={folder / 'run' / 'slurmd.pid'}",
        f"SlurmctldLogFile={folder / 'log' / 'slurmctld.log'}",
        f"SlurmdLogFile={folder / 'log' / 'slurmd.log'}",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "JobAcctGatherType=jobacct_gather/none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core_Memory",
        "DefMemPerCPU=256",
        "MpiDefault=none",
        "MailProg=/bin/true",
        "ReturnToService=2",
        "MinJobAge=300",  # finished jobs stay visible to squeue for 5 minutes
        "KillWait=5",     # a cancelled job gets SIGKILL 5 s after SIGTERM
        "JobCompType=jobcomp/none",
    ]
    if dbd_port is None:
        lines.append("AccountingStorageType=accounting_storage/none")
    else:
        lines += ["AccountingStorageType=accounting_storage/slurmdbd",
                  "AccountingStorageHost=127.0.0.1",
                  f"AccountingStoragePort={dbd_port}",
                  # with MUNGE, this names the socket used to talk to slurmdbd
                  f"AccountingStoragePass={munge_socket}"]
    lines += [
        f"NodeName={node} NodeAddr=127.0.0.1 NodeHostname={node} CPUs={cpus} "
        f"RealMemory={_memory_mb()} State=UNKNOWN",
        f"PartitionName={_CLUSTER} Nodes={node} Default=YES MaxTime=INFINITE State=UP",
        "",
    ]
    return "\n".join(lines)


def _start_slurmdbd(programs: Mapping[str, str], *, folder: Path, munge_socket: Path, database: URL,
                    port: int, env: Mapping[str, str], stack: ExitStack) -> None:
    name = f"slurm_acct_{secrets.token_hex(6)}"
    lines = [
        "AuthType=auth/munge",
        f"AuthInfo=socket={munge_socket}",
        "DbdHost=localhost",
        "DbdAddr=127.0.0.1",
        f"DbdPort={port}",
        "SlurmUser=root",
        f"LogFile={folder / 'log' / 'slurmdbd.log'}",
        f"PidFile={folder / 'run' / 'slurmdbd.pid'}",
        "StorageType=accounting_storage/mysql",
        f"StorageHost={database.host or '127.0.0.1'}",
        f"StoragePort={database.port or 3306}",
        f"StorageUser={database.username or 'root'}",
        f"StorageLoc={name}",
    ]
    if database.password:
        lines.append(f"StoragePass={database.password}")
    conf = folder / "slurmdbd.conf"  # slurmdbd reads it next to SLURM_CONF; it must be private
    conf.touch(mode=0o600)
    conf.write_text("\n".join([*lines, ""]))
    _probe_database(database)  # slurmdbd would wait for it forever
    stack.callback(_drop_database, database, name)
    daemon = Daemon("slurmdbd", [programs["slurmdbd"], "-D"], log_path=folder / "log" / "slurmdbd.out",
                    env=env)
    stack.callback(daemon.stop)

    def answers() -> bool:
        probe = [programs["sacctmgr"], "--noheader", "--parsable2", "list", "cluster"]
        try:
            return subprocess.run(probe, env=dict(env), capture_output=True, timeout=10,
                                  check=False).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    try:
        wait_until(answers, timeout=30, what="slurmdbd", alive=daemon.dead, interval=0.5)
        run_checked([programs["sacctmgr"], "--immediate", "add", "cluster", _CLUSTER], env=env)
    except ComponentUnavailable as exc:
        raise AccountingUnavailable(str(exc)) from exc


def _server_engine(database: URL) -> Engine:
    return create_engine(database.set(database=None), isolation_level="AUTOCOMMIT")


def _probe_database(database: URL) -> None:
    """:class:`AccountingUnavailable` unless the accounting server answers."""
    try:
        engine = _server_engine(database)
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        finally:
            engine.dispose()
    except (ImportError, SQLAlchemyError) as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
        raise AccountingUnavailable(f"accounting database server unavailable: {reason}") from exc


def _drop_database(database: URL, name: str) -> None:
    """Drop slurmdbd's database; a server gone meanwhile leaves it (the folder is temporary anyway)."""
    with contextlib.suppress(SQLAlchemyError):
        engine = _server_engine(database)
        try:
            quoted = engine.dialect.identifier_preparer.quote_identifier(name)
            with engine.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {quoted}"))
        finally:
            engine.dispose()


def _node_state(programs: Mapping[str, str], node: str, env: Mapping[str, str]) -> str:
    done = subprocess.run([programs["sinfo"], "--noheader", f"--nodes={node}", "--format=%T"],
                          env=dict(env), capture_output=True, text=True, timeout=30, check=False)
    return done.stdout.strip().rstrip("*~#!%$@^-") if done.returncode == 0 else ""


def _cancel_all(programs: Mapping[str, str], env: Mapping[str, str]) -> None:
    """Cancel every job of the partition and wait (bounded) until none holds the node."""
    subprocess.run([programs["scancel"], f"--partition={_CLUSTER}"], env=dict(env),
                   capture_output=True, timeout=30, check=False)

    def idle() -> bool:
        done = subprocess.run([programs["squeue"], "--noheader", "--states=running,completing",
                               "--format=%i"], env=dict(env), capture_output=True, text=True, timeout=30,
                              check=False)
        return done.returncode != 0 or not done.stdout.strip()

    with contextlib.suppress(ComponentUnavailable):  # the daemons are stopped anyway
        wait_until(idle, timeout=20, what="cancelling the jobs left")


@contextmanager
def slurm_cluster(tmp_dir: Path, *, accounting_db: URL | str | None = None,
                  start_timeout: float = 60) -> Iterator[SlurmCluster]:
    """Run a one-node SLURM cluster with its files in ``tmp_dir`` until the block ends.

    ``accounting_db`` (a SQLAlchemy URL of a MariaDB/MySQL server whose user
    may create databases) adds ``slurmdbd`` with a private database, dropped
    on exit. Raises :class:`AccountingUnavailable` when accounting was asked
    for but cannot run, :class:`ComponentUnavailable` when the cluster
    cannot; everything started is stopped on exit or failure.
    """
    wanted = [*_SERVER_BINARIES, *(_ACCOUNTING_BINARIES if accounting_db is not None else ())]
    try:
        programs = require_binaries(wanted)
    except ComponentUnavailable as exc:
        if accounting_db is not None and require_binaries(_SERVER_BINARIES):
            raise AccountingUnavailable(str(exc)) from exc
        raise
    if os.geteuid() != 0:
        raise ComponentUnavailable("the test SLURM cluster runs its daemons as root")
    folder = Path(tmp_dir) / "slurm"
    for sub in ("state", "spool", "run", "log"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    node = socket.gethostname().split(".")[0]
    cpus = os.cpu_count() or 1
    conf = folder / "slurm.conf"
    env = {**os.environ, "SLURM_CONF": str(conf)}
    with ExitStack() as stack:
        munge_socket = _start_munge(programs, _munge_dir(folder, stack), stack)
        dbd_port = free_port() if accounting_db is not None else None
        # every daemon and command reads slurm.conf, slurmdbd included: write it first
        conf.write_text(_slurm_conf(folder=folder, munge_socket=munge_socket, node=node, cpus=cpus,
                                    dbd_port=dbd_port))
        if accounting_db is not None and dbd_port is not None:
            _start_slurmdbd(programs, folder=folder, munge_socket=munge_socket,
                            database=make_url(accounting_db), port=dbd_port, env=env, stack=stack)
        ctld = Daemon("slurmctld", [programs["slurmctld"], "-D", "-f", str(conf)],
                      log_path=folder / "log" / "slurmctld.out", env=env)
        stack.callback(ctld.stop)
        slurmd = Daemon("slurmd", [programs["slurmd"], "-D", "-f", str(conf), "-N", node],
                        log_path=folder / "log" / "slurmd.out", env=env)
        stack.callback(slurmd.stop)
        # callbacks run last-in first-out: jobs are cancelled while the daemons still run
        stack.callback(_cancel_all, programs, env)

        def alive() -> str | None:
            return ctld.dead() or slurmd.dead()

        try:
            wait_until(lambda: _node_state(programs, node, env) == "idle", timeout=start_timeout,
                       what=f"SLURM node {node}", alive=alive, interval=0.5)
        except ComponentUnavailable as exc:
            raise ComponentUnavailable(f"{exc}; node state {_node_state(programs, node, env)!r}; "
                                       f"slurmd log: {slurmd.log_tail(800)}") from exc
        yield SlurmCluster(conf_path=conf, partition=_CLUSTER, node=node, cpus=cpus,
                           accounting=dbd_port is not None, log_dir=folder / "log")

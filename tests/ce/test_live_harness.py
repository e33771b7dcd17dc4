"""The harness that runs real daemons for live tests (dirac_core.testing._daemons, slurm, sshd)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from dirac_core.testing._daemons import ComponentUnavailable, Daemon, free_port, require_binaries, wait_until
from dirac_core.testing.databases import skip_or_fail
from dirac_core.testing.slurm import AccountingUnavailable, SlurmCluster, slurm_cluster
from dirac_core.testing.sshd import SshdServer


def test_missing_programs_are_listed() -> None:
    with pytest.raises(ComponentUnavailable, match="dirac-missing-a, dirac-missing-b"):
        require_binaries(["sh", "dirac-missing-b", "dirac-missing-a"])
    assert require_binaries(["sh"])["sh"].endswith("/sh")


def test_free_port_can_be_bound() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", free_port()))


def test_wait_until_returns_once_true() -> None:
    answers = iter([False, False, True])
    wait_until(lambda: next(answers), timeout=30, what="thing", interval=0)
    assert next(answers, "exhausted") == "exhausted"


def test_wait_until_gives_up_at_once_when_the_daemon_died() -> None:
    with pytest.raises(ComponentUnavailable, match="thing: crashed"):
        wait_until(lambda: False, timeout=3600, what="thing", alive=lambda: "crashed")


def test_wait_until_times_out() -> None:
    with pytest.raises(ComponentUnavailable, match="not ready after 0 s"):
        wait_until(lambda: False, timeout=0, what="thing")


def test_daemon_that_exits_says_why(tmp_path: Path) -> None:
    daemon = Daemon("quitter", ["sh", "-c", "echo cannot bind port; exit 4"], log_path=tmp_path / "q.log")
    daemon.process.wait(timeout=30)
    assert daemon.dead() == "quitter exited with 4: cannot bind port"


def test_daemon_stop_ends_it(tmp_path: Path) -> None:
    daemon = Daemon("sleeper", ["sleep", "300"], log_path=tmp_path / "s.log")
    assert daemon.dead() is None
    daemon.stop(timeout=10)
    assert daemon.process.returncode is not None and daemon.dead() is not None


def test_daemon_that_cannot_start(tmp_path: Path) -> None:
    with pytest.raises(ComponentUnavailable, match="cannot start ghost"):
        Daemon("ghost", ["/nonexistent/dirac-ghostd"], log_path=tmp_path / "g.log")


def test_session_cluster_is_idle_and_described(slurm_cluster: SlurmCluster) -> None:
    assert slurm_cluster.env == {"SLURM_CONF": str(slurm_cluster.conf_path)}
    assert f"PartitionName={slurm_cluster.partition} " in slurm_cluster.conf_path.read_text()
    assert slurm_cluster.accounting or slurm_cluster.accounting_problem


def test_session_sshd_files(sshd_server: SshdServer) -> None:
    assert sshd_server.known_hosts.read_text().startswith(f"[127.0.0.1]:{sshd_server.port} ssh-ed25519 ")
    assert sshd_server.client_key.exists()


def test_unreachable_accounting_server_is_reported_apart(tmp_path: Path) -> None:
    try:
        require_binaries(["munged", "slurmctld", "slurmd", "slurmdbd", "sacctmgr"])
    except ComponentUnavailable as exc:
        skip_or_fail(f"SLURM with slurmdbd unavailable: {exc}")
    closed = free_port()
    url = f"mysql+mysqldb://root:s3cret@127.0.0.1:{closed}/x"
    with pytest.raises(AccountingUnavailable, match="accounting database server unavailable") as info, \
            slurm_cluster(tmp_path, accounting_db=url):
        pass
    assert "s3cret" not in str(info.value)

"""SSHTransport against a real OpenSSH server on loopback: conformance suite and SSH specifics."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from ce_live_helpers import ssh_transport

from dirac_core.errors import CEError, CEUnreachable, PluginUnavailable
from dirac_core.plugins import PluginGroup, load_driver
from dirac_core.testing.conformance.transport import TransportSuite
from dirac_core.testing.sshd import SshdServer
from dirac_plugins_ce.transports import SSHTransport


class TestSSHTransport(TransportSuite):
    @pytest.fixture
    def driver(self, sshd_server: SshdServer) -> Iterator[SSHTransport]:
        with ssh_transport(sshd_server) as transport:
            yield transport


def test_registered_as_ssh() -> None:
    assert load_driver(PluginGroup.TRANSPORTS, "ssh") is SSHTransport


def test_environment_prefix_reaches_the_command(sshd_server: SshdServer) -> None:
    env = {"SLURM_CONF": "/tmp/x y/slurm.conf", "QUOTED": "it's $HOME"}
    with ssh_transport(sshd_server, environment=env) as transport:
        result = transport.run(["sh", "-c", 'printf "%s|%s" "$SLURM_CONF" "$QUOTED"'])
    assert result.stdout == "/tmp/x y/slurm.conf|it's $HOME"


def test_one_connection_is_reused(sshd_server: SshdServer) -> None:
    with ssh_transport(sshd_server) as transport:
        transport.run(["true"])
        first = transport._client
        transport.run(["true"])
        transport.read_file(str(sshd_server.known_hosts))
        assert transport._client is first and first is not None


def test_reconnects_once_after_the_connection_dropped(sshd_server: SshdServer) -> None:
    with ssh_transport(sshd_server) as transport:
        transport.run(["true"])
        dropped = transport._client
        dropped.get_transport().close()  # as if the network had cut it
        assert transport.run(["echo", "again"]).stdout == "again\n"
        assert transport._client is not dropped


def test_usable_again_after_close(sshd_server: SshdServer) -> None:
    transport = ssh_transport(sshd_server)
    transport.run(["true"])
    transport.close()
    assert transport._client is None
    assert transport.run(["echo", "reopened"]).stdout == "reopened\n"
    transport.close()


def test_timeout_is_unreachable_and_names_the_command(sshd_server: SshdServer) -> None:
    transport = ssh_transport(sshd_server)
    with transport, pytest.raises(CEUnreachable, match="did not finish") as info:
        transport.run(["sleep", "10"], timeout=0.5)
    assert info.value.fields["command"] == "sleep 10" and info.value.fields["port"] == sshd_server.port


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_closed_port_is_unreachable() -> None:
    port = _closed_port()
    transport = SSHTransport(host="127.0.0.1", port=port, user="nobody", connect_timeout=2)
    with pytest.raises(CEUnreachable, match=f"127.0.0.1:{port}") as info:
        transport.run(["true"])
    assert info.value.fields["host"] == "127.0.0.1" and info.value.fields["port"] == port


def test_unknown_host_name_is_unreachable() -> None:
    transport = SSHTransport(host="dirac-no-such-host.invalid", connect_timeout=2)
    with pytest.raises(CEUnreachable, match="resolve"):
        transport.read_file("/etc/hostname")


def test_silent_server_is_unreachable_after_connect_timeout() -> None:
    with socket.socket() as listener:  # accepts connections (backlog) but never speaks
        listener.bind(("127.0.0.1", 0))
        listener.listen(5)
        port = int(listener.getsockname()[1])
        transport = SSHTransport(host="127.0.0.1", port=port, connect_timeout=0.5)
        with pytest.raises(CEUnreachable) as info:
            transport.run(["true"])
    assert info.value.fields["port"] == port


def test_wrong_key_is_unreachable_and_secret_free(sshd_server: SshdServer, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    other = tmp_path / "other_key"
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())
    other.write_bytes(pem)
    other.chmod(0o600)
    transport = ssh_transport(sshd_server, key_file=str(other))
    with pytest.raises(CEUnreachable, match="authentication failed") as info:
        transport.run(["true"])
    body = pem.decode().splitlines()[1]
    assert body not in str(info.value) and body not in repr(info.value.fields)


def test_unknown_host_key_is_refused_by_default(sshd_server: SshdServer, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    transport = ssh_transport(sshd_server, known_hosts=str(empty))
    with pytest.raises(CEUnreachable, match="not found in known_hosts"):
        transport.run(["true"])


def test_accept_new_records_the_host_key(sshd_server: SshdServer, tmp_path: Path) -> None:
    recorded = tmp_path / "sub-known_hosts"
    with ssh_transport(sshd_server, known_hosts=str(recorded), host_key_policy="accept-new") as first:
        assert first.run(["true"]).ok
    assert f"[127.0.0.1]:{sshd_server.port}" in recorded.read_text()
    # the recorded key now lets the strict default policy in
    with ssh_transport(sshd_server, known_hosts=str(recorded)) as strict:
        assert strict.run(["true"]).ok


def test_changed_host_key_is_refused(sshd_server: SshdServer, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    public = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    forged = tmp_path / "forged_known_hosts"
    forged.write_text(f"[127.0.0.1]:{sshd_server.port} {public}\n")
    transport = ssh_transport(sshd_server, known_hosts=str(forged), host_key_policy="accept-new")
    with pytest.raises(CEUnreachable, match="does not match"):
        transport.run(["true"])


def test_unknown_host_key_policy_is_refused() -> None:
    with pytest.raises(ValueError, match="host_key_policy"):
        SSHTransport(host="h", host_key_policy="yes")  # type: ignore[arg-type]


def test_unreadable_remote_file_is_a_ce_error(sshd_server: SshdServer, tmp_path: Path) -> None:
    with ssh_transport(sshd_server) as transport, pytest.raises(CEError, match="cannot access"):
        transport.read_file(str(tmp_path))  # a directory


def test_missing_paramiko_is_plugin_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "paramiko", None)  # import paramiko now fails
    transport = SSHTransport(host="127.0.0.1")
    with pytest.raises(PluginUnavailable, match=r"dirac-core\[ssh\]"):
        transport.run(["true"])

"""LocalTransport: the transport conformance suite, plus what only a local transport does."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dirac_core.errors import CEError, CEUnreachable
from dirac_core.plugins import PluginGroup, load_driver
from dirac_core.testing.conformance.transport import TransportSuite
from dirac_plugins_ce.transports import LocalTransport


class TestLocalTransport(TransportSuite):
    @pytest.fixture
    def driver(self) -> LocalTransport:
        return LocalTransport()


def test_registered_as_local() -> None:
    assert load_driver(PluginGroup.TRANSPORTS, "local") is LocalTransport


def test_timeout_is_a_ce_error_naming_command_and_timeout() -> None:
    with pytest.raises(CEError, match=r"sleep 10 did not finish within 0\.3 s") as info:
        LocalTransport().run(["sleep", "10"], timeout=0.3)
    assert not isinstance(info.value, CEUnreachable)
    assert info.value.fields == {"command": "sleep 10", "timeout": 0.3}


def test_environment_is_added_for_commands_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIRAC_TEST_KEPT", "kept")
    transport = LocalTransport(environment={"SLURM_CONF": "/x/slurm.conf", "WITH_SPACE": "a b"})
    result = transport.run(["sh", "-c", 'printf "%s|%s|%s" "$SLURM_CONF" "$WITH_SPACE" "$DIRAC_TEST_KEPT"'])
    assert result.stdout == "/x/slurm.conf|a b|kept"
    assert "SLURM_CONF" not in os.environ or os.environ["SLURM_CONF"] != "/x/slurm.conf"
    assert transport.environment == {"SLURM_CONF": "/x/slurm.conf", "WITH_SPACE": "a b"}


@pytest.mark.parametrize("name", ["1ABC", "A-B", "A B", ""])
def test_invalid_environment_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="environment variable name"):
        LocalTransport(environment={name: "x"})


def test_nul_in_environment_value_is_refused() -> None:
    with pytest.raises(ValueError, match="NUL"):
        LocalTransport(environment={"A": "x\0y"})


def test_not_executable_exits_126(tmp_path: Path) -> None:
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho never\n")
    script.chmod(0o644)
    result = LocalTransport().run([str(script)])
    assert result.returncode == 126 and "cannot execute" in result.stderr


def test_missing_command_says_so() -> None:
    result = LocalTransport().run(["dirac-no-such-command-here"])
    assert "dirac-no-such-command-here: command not found" in result.stderr


def test_reading_a_directory_is_a_ce_error(tmp_path: Path) -> None:
    with pytest.raises(CEError, match="cannot read"):
        LocalTransport().read_file(str(tmp_path))


def test_writing_under_a_file_is_a_ce_error(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("x")
    with pytest.raises(CEError, match="cannot write"):
        LocalTransport().write_file(str(tmp_path / "plain" / "child.txt"), "y")


def test_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    LocalTransport().write_file(str(tmp_path / "a.txt"), "content", mode=0o600)
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == 0o600


def test_undecodable_output_is_replaced() -> None:
    result = LocalTransport().run(["printf", "a\\377b"])
    assert result.stdout == "a\ufffdb"

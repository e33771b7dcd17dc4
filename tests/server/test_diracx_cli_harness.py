"""The DiracX CLI harness's own parsing and environment, without a server or a diracx install."""

from __future__ import annotations

from pathlib import Path

import pytest
from diracx_cli import DiracxCLI, default_cache_root, parse_inserted_ids, parse_verification_url

LOGIN_OUTPUT = (
    "Logging in with scopes: ['vo:testvo']\n"
    "Now go to: http://127.0.0.1:8765/api/auth/device?user_code=EC69A4BB\n"
    "..Saved credentials to /tmp/dxhome/creds.json\n"
    "\n"
    "Login successful!\n"
)


def test_verification_url_from_login_output() -> None:
    assert parse_verification_url(LOGIN_OUTPUT) == "http://127.0.0.1:8765/api/auth/device?user_code=EC69A4BB"
    assert parse_verification_url("Logging in with scopes: ['vo:testvo']\nNow go to: http://h/x?a=1\n.") \
        == "http://h/x?a=1"


def test_verification_url_absent_or_incomplete() -> None:
    assert parse_verification_url("") is None
    assert parse_verification_url("Logging in with scopes: ['vo:testvo']\n") is None
    # The line has no newline yet: the URL may still be arriving.
    assert parse_verification_url("Now go to: http://127.0.0.1:8765/api/auth/dev") is None
    assert parse_verification_url("Please go to: http://h/x\n") is None


def test_inserted_ids() -> None:
    assert parse_inserted_ids("Inserted 2 jobs with ids: 1,2\n") == [1, 2]
    assert parse_inserted_ids("Inserted 1 jobs with ids: 17\n") == [17]
    assert parse_inserted_ids("noise\nInserted 3 jobs with ids: 10,11,12") == [10, 11, 12]
    assert parse_inserted_ids("Inserted 0 jobs with ids: \n") == []


@pytest.mark.parametrize("stdout", [
    "",
    "❌ You are not authenticated. Log in with:  dirac login [OPTIONS] [VO]\n",
    "Inserted 3 jobs with ids: 1,2\n",
    "Inserted 1 jobs with ids: \n",
    "Inserted 2 jobs with ids: 1,,2\n",
])
def test_inserted_ids_refuses_bad_output(stdout: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is the stdout, not worth matching
        parse_inserted_ids(stdout)


def test_cli_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "dirac").touch()
    monkeypatch.setenv("DIRACX_CA_PATH", "/inherited/ca")
    monkeypatch.setenv("DIRACX_URL", "http://inherited.example")
    monkeypatch.setenv("PYTHONPATH", "/inherited/path")
    monkeypatch.setenv("https_proxy", "http://proxy.example:3128")
    cli = DiracxCLI(venv, "http://127.0.0.1:8000", tmp_path / "alice")
    env = cli.env()
    assert env["DIRACX_URL"] == "http://127.0.0.1:8000"
    assert env["DIRACX_CREDENTIALS_PATH"] == str(tmp_path / "alice" / "credentials.json")
    assert env["DIRACX_OUTPUT_FORMAT"] == "JSON"
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["HOME"] == str(tmp_path / "alice")
    assert "DIRACX_CA_PATH" not in env and "PYTHONPATH" not in env and "https_proxy" not in env
    assert cli.credentials() is None
    assert cli.command("whoami") == [str(venv / "bin" / "dirac"), "whoami"]


def test_cli_needs_a_diracx_venv(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no dirac command"):
        DiracxCLI(tmp_path, "http://127.0.0.1:8000", tmp_path / "alice")


def test_default_cache_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_root() == tmp_path / "dirac-core-tests"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_root() == tmp_path / "home" / ".cache" / "dirac-core-tests"

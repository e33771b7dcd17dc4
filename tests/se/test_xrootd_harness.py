"""The XRootD test-server harness: both protocols on one namespace, the server's user, clean-up."""

from __future__ import annotations

import os
import pwd
import socket
import ssl
import subprocess
import urllib.request
from pathlib import Path

import pytest

from dirac_core.testing._daemons import ComponentUnavailable
from dirac_core.testing.xrootd import XRootDServer, xrootd_server


def test_one_namespace_behind_root_and_https(xrootd_server: XRootDServer) -> None:
    target = xrootd_server.local_path("/harness/hello.txt")
    done = subprocess.run(["xrdcp", "-f", "-", f"{xrootd_server.root_url}//harness/hello.txt"],
                          input=b"hello", capture_output=True, check=False, timeout=60)
    assert done.returncode == 0, done.stderr
    assert target.read_bytes() == b"hello"
    context = ssl.create_default_context(cafile=str(xrootd_server.ca_file))
    request = urllib.request.Request(f"{xrootd_server.https_url}/harness/hello.txt",
                                     headers={"Want-Digest": "adler32"})
    with urllib.request.urlopen(request, context=context, timeout=30) as answer:
        assert answer.read() == b"hello"
        assert answer.headers["Digest"] == "adler32=062c0215"


def test_server_runs_as_the_xrootd_user_when_we_are_root(xrootd_server: XRootDServer) -> None:
    subprocess.run(["xrdcp", "-f", "-", f"{xrootd_server.root_url}//harness/owner"], input=b"x",
                   capture_output=True, check=True, timeout=60)
    owner = xrootd_server.local_path("/harness/owner").stat().st_uid
    expected = pwd.getpwnam("xrootd").pw_uid if os.geteuid() == 0 else os.geteuid()
    assert owner == expected


def test_server_stops_and_its_files_go(tmp_path: Path) -> None:
    with xrootd_server(tmp_path) as server:
        folder = server.data_dir.parent
        assert folder.is_dir()
    assert not folder.exists() or os.geteuid() != 0
    assert (tmp_path / "xrootd.log").read_text()  # the log stays for post-mortems
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("localhost", server.root_port), timeout=2)


def test_missing_program_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(ComponentUnavailable, match="xrootd"), xrootd_server(tmp_path):
        pass

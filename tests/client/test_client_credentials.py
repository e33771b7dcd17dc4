"""DiracX credentials files: an expired access token is refreshed and the file rewritten (0600)."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest
from client_helpers import JDL, Recording, Served

from dirac_core.errors import NotAuthenticated

SEARCH = ("POST", "/api/jobs/search")
TOKEN = ("POST", "/api/auth/token")


def _write(path: Path, access: str, refresh: str, expires_on: float) -> None:
    path.write_text(json.dumps({"access_token": access, "refresh_token": refresh,
                                "expires_on": int(expires_on)}))
    path.chmod(0o644)


def test_an_expired_access_token_is_refreshed_and_the_file_rewritten(served: Served, tmp_path: Path) -> None:
    pair = served.tokens("alice", minutes=1)
    path = tmp_path / "credentials.json"
    _write(path, pair.access_token, pair.refresh_token, time.time() - 60)
    recorder = Recording()
    remote = served.client(credentials_path=path, transport=recorder)
    [job] = remote.wms.submit(JDL)
    assert recorder.sent == [TOKEN, ("POST", "/api/jobs/jdl")]  # refreshed before sending
    stored = json.loads(path.read_text())
    assert stored["access_token"] != pair.access_token and stored["refresh_token"] != pair.refresh_token
    assert stored["expires_on"] > time.time()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert served.iw.auth.tokens.identity(stored["access_token"]).user == "alice"
    assert remote.wms.search(["JobID"]).rows == [{"JobID": job.job_id}]
    assert recorder.sent[2:] == [SEARCH]  # the new token is used as it is
    with pytest.raises(NotAuthenticated):  # the old refresh token was spent by the client
        served.iw.auth.tokens.refresh(pair.refresh_token)


def test_a_refused_access_token_is_refreshed_once(served: Served, tmp_path: Path) -> None:
    pair = served.tokens("alice")
    path = tmp_path / "credentials.json"
    _write(path, "not-a-token", pair.refresh_token, time.time() + 3600)
    recorder = Recording()
    remote = served.client(credentials_path=path, transport=recorder)
    assert remote.wms.search(["JobID"]).total == 0
    assert recorder.sent == [SEARCH, TOKEN, SEARCH]
    assert json.loads(path.read_text())["access_token"] != "not-a-token"


def test_a_token_refreshed_by_another_process_is_read_not_refreshed(served: Served, tmp_path: Path) -> None:
    old, new = served.tokens("alice"), served.tokens("alice")
    path = tmp_path / "credentials.json"
    _write(path, old.access_token, old.refresh_token, time.time() - 60)
    recorder = Recording()
    remote = served.client(credentials_path=path, transport=recorder)
    _write(path, new.access_token, new.refresh_token, time.time() + 3600)  # e.g. `dirac login`
    assert remote.wms.search(["JobID"]).total == 0
    assert recorder.sent == [SEARCH]
    assert remote.transport.credentials.access_token == new.access_token


def test_a_revoked_refresh_token_is_not_authenticated(served: Served, tmp_path: Path) -> None:
    pair = served.tokens("alice")
    served.iw.auth.tokens.revoke(pair.refresh_token)
    path = tmp_path / "credentials.json"
    _write(path, pair.access_token, pair.refresh_token, time.time() - 60)
    before = path.read_text()
    recorder = Recording()
    with pytest.raises(NotAuthenticated, match="refresh token was refused"):
        served.client(credentials_path=path, transport=recorder).wms.search()
    assert recorder.sent == [TOKEN] and path.read_text() == before


def test_a_plain_token_is_never_refreshed(served: Served, tmp_path: Path) -> None:
    recorder = Recording()
    with pytest.raises(NotAuthenticated):
        served.client(token="not-a-token", transport=recorder).wms.search()
    assert recorder.sent == [SEARCH]
    with pytest.raises(NotAuthenticated, match="cannot read the credentials file"):
        served.client(credentials_path=tmp_path / "missing.json")

"""What the database holds of the secrets: hashes, encrypted keys; and key rotation logging nobody out."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import RSAKey
from sec_helpers import CLIENT, KEY_SECRET, bearer, device_login, refresh, sec_config
from sqlalchemy import select, update

from dirac_core.auth import AuthManager
from dirac_core.auth.codes import s256
from dirac_core.auth.key_crypto import PREFIX, KeyCipher
from dirac_core.auth.keys import verification_grace
from dirac_core.db import Database
from dirac_core.db.tables.auth import authorization_codes, device_flows, metadata, signing_keys
from dirac_core.errors import ConfigError, NotAuthenticated
from dirac_core.interware import Interware
from dirac_core.model import FakeClock

PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi")


def _dump(database: Database) -> str:
    """Every row of every auth table, as text."""
    with database.begin(read_only=True) as conn:
        return "\n".join(repr(tuple(row)) for table in metadata.sorted_tables
                         for row in conn.execute(select(table)))


def _key_rows(database: Database) -> dict[str, str]:
    with database.begin(read_only=True) as conn:
        return {row.kid: row.private_jwk for row in conn.execute(select(signing_keys))}


def _kid(token: str) -> str:
    header = token.split(".", maxsplit=1)[0]
    return str(json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"])


def _manager(iw: Interware, **auth: str | None) -> AuthManager:
    """Another replica's auth engine on the same database, with other ``[auth]`` secrets."""
    url = iw.database.url.render_as_string(hide_password=False)
    return AuthManager(database=iw.database, config=sec_config(url, **auth), clock=iw.clock)


def test_no_secret_reaches_the_database(client: TestClient, iw: Interware) -> None:
    login = device_login(client, "alice")
    rotated = refresh(client, login["refresh_token"]).json()
    verifier = "v" * 50
    code = iw.auth.codes.grant(client_id=CLIENT, redirect_uri="http://app/cb", challenge=s256(verifier),
                               scope="vo:demo", user="bob", registry=iw.config.registry)
    key = iw.auth.keys.signing_key().as_dict(private=True)
    stored = _dump(iw.database)
    assert "alice" in stored and login["user_code"] in stored  # the rows are there
    secrets = [login["device_code"], code, key["d"], key["p"], key["q"]]
    for pair in (login, rotated):
        secrets += [pair["access_token"], pair["refresh_token"], *pair["refresh_token"].split(".")[1:],
                    *pair["access_token"].split(".")[1:]]
    for secret in secrets:
        assert secret not in stored
    # what is there instead: the SHA-256 of the codes, the keys encrypted
    assert hashlib.sha256(login["device_code"].encode()).hexdigest() in stored
    with iw.database.begin(read_only=True) as conn:
        assert conn.execute(select(authorization_codes.c.code_hash)).scalar_one() == \
            hashlib.sha256(code.encode()).hexdigest()
        assert conn.execute(select(device_flows.c.device_code_hash)).scalar_one() == \
            hashlib.sha256(login["device_code"].encode()).hexdigest()
    rows = _key_rows(iw.database)
    assert rows and all(text.startswith(PREFIX) and '"d"' not in text for text in rows.values())


def test_the_key_secret_is_needed_to_sign_and_verify(iw: Interware) -> None:
    _, pair = iw.auth.issue("alice", vo="demo")
    # a replica with the same secret verifies; one without it, or with another one, refuses to start
    # signing (a clear error naming the setting, neither secret in the message)
    assert _manager(iw).tokens.identity(pair.access_token).user == "alice"
    for auth in ({"secret": None}, {"secret": "another-secret-of-the-right-size"}):
        with pytest.raises(ConfigError, match="key_encryption_secret") as caught:
            _manager(iw, **auth).tokens.identity(pair.access_token)
        assert KEY_SECRET not in str(caught.value) and "another-secret" not in str(caught.value)
    # a ciphertext copied onto another key's row does not decrypt (the kid is bound to it)
    other = KeyCipher(KEY_SECRET)
    [(kid, text)] = _key_rows(iw.database).items()
    assert json.loads(other.decrypt(kid, text))["d"] == iw.auth.keys.signing_key().as_dict(private=True)["d"]
    with pytest.raises(ConfigError, match="does not decrypt"):
        other.decrypt("another-kid", text)


def test_the_secret_from_a_file(iw: Interware, tmp_path: Path) -> None:
    secret_file = tmp_path / "key-secret"
    secret_file.write_text(KEY_SECRET + "\n")
    _, pair = iw.auth.issue("alice", vo="demo")
    from_file = _manager(iw, secret=None, secret_file=str(secret_file))
    assert from_file.tokens.identity(pair.access_token).user == "alice"
    with pytest.raises(ConfigError, match="not both"):
        _manager(iw, secret_file=str(secret_file))
    with pytest.raises(ConfigError, match="cannot read"):
        _manager(iw, secret=None, secret_file=str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="at least 16"):
        _manager(iw, secret="short")


def test_keys_stored_in_the_clear_are_encrypted_once_a_secret_is_set(iw: Interware) -> None:
    clear = _manager(iw, secret=None)
    _, pair = clear.issue("alice", vo="demo")
    [(kid, text)] = _key_rows(iw.database).items()
    assert json.loads(text)["kid"] == kid and all(member in json.loads(text) for member in PRIVATE_MEMBERS)
    # the next load with the secret encrypts it in place, and the token stays good
    assert iw.auth.tokens.identity(pair.access_token).user == "alice"
    [(same, now)] = _key_rows(iw.database).items()
    assert same == kid and now.startswith(PREFIX)
    assert _manager(iw).tokens.identity(pair.access_token).user == "alice"


def test_rotation_keeps_old_tokens_until_their_grace_is_over(client: TestClient, iw: Interware,
                                                              fake_clock: FakeClock) -> None:
    login = device_login(client, "alice")
    old_kid = _kid(login["access_token"])
    new_kid = iw.auth.keys.rotate()
    assert new_kid != old_kid
    # nobody is logged out: the old access token still works, the old refresh token still refreshes
    assert client.get("/api/auth/userinfo", headers=bearer(login["access_token"])).status_code == 200
    fresh = refresh(client, login["refresh_token"])
    assert fresh.status_code == 200, fresh.text
    # ... and what is issued now is signed by the new key
    assert _kid(fresh.json()["access_token"]) == new_kid
    assert _kid(fresh.json()["refresh_token"]) == new_kid
    assert {key["kid"] for key in client.get("/.well-known/jwks.json").json()["keys"]} == {old_kid, new_kid}
    # a token of the old key made to live longer than any token the server issues (an administrator's
    # issue-token) is refused once the grace is over, though not expired, and the key leaves the JWKS
    grace = verification_grace(iw.config.auth)
    assert grace == timedelta(minutes=61)  # the longest lifetime (refresh and pilot: 60 min) and skew
    fake_clock.advance(grace - timedelta(seconds=1))
    assert iw.auth.tokens.claims(_old_key_token(iw, old_kid, fake_clock))["sub"] == "demo:alice"
    fake_clock.advance(timedelta(seconds=2))
    with pytest.raises(NotAuthenticated):
        iw.auth.tokens.claims(_old_key_token(iw, old_kid, fake_clock))
    assert {key["kid"] for key in client.get("/.well-known/jwks.json").json()["keys"]} == {new_kid}
    # the next rotation deletes the key whose grace is over
    newest = iw.auth.keys.rotate()
    assert set(_key_rows(iw.database)) == {new_kid, newest}


def _old_key_token(iw: Interware, kid: str, clock: FakeClock) -> str:
    """An access token of alice valid for a day, signed by the stored key ``kid``."""
    text = _key_rows(iw.database)[kid]
    key = RSAKey.import_key(json.loads(KeyCipher(KEY_SECRET).decrypt(kid, text)))
    claims = iw.auth.tokens.access_claims(iw.identity("alice"), clock.now(), timedelta(days=1))
    return jwt.encode({"alg": "RS256", "kid": kid}, claims, key, algorithms=["RS256"])


def test_a_key_row_altered_in_the_database_is_refused(iw: Interware) -> None:
    iw.auth.keys.signing_key()
    [(kid, text)] = _key_rows(iw.database).items()
    flipped = text[:-4] + ("AAAA" if not text.endswith("AAAA") else "BBBB")
    with iw.database.begin() as conn:
        conn.execute(update(signing_keys).where(signing_keys.c.kid == kid).values(private_jwk=flipped))
    with pytest.raises(ConfigError, match="does not decrypt"):
        _manager(iw).keys.signing_key()

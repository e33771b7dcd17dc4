"""Access and refresh tokens: claims, verification, forgeries, rotation, replay and revocation."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime, timedelta

import pytest
from auth_helpers import (
    ACCESS_MINUTES,
    ADMIN_PROPS,
    ISSUER,
    REFRESH_MINUTES,
    b64,
    compact,
    jwt_parts,
    make_config,
)
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import select

from dirac_core.auth import AuthManager, TokenService
from dirac_core.auth.tokens import LEEWAY, MAX_TOKEN_BYTES
from dirac_core.config import AuthSettings
from dirac_core.db import Database
from dirac_core.db.tables.auth import refresh_tokens
from dirac_core.errors import NotAuthenticated
from dirac_core.model import FakeClock
from dirac_core.model.identity import Identity

ADMIN = Identity(user="admin", group="demo_admin", vo="demo", properties=set(ADMIN_PROPS))


def _epoch(when: datetime) -> int:
    return int(when.timestamp())


def _other_service(manager: AuthManager, database: Database, fake_clock: FakeClock,
                   settings: AuthSettings) -> TokenService:
    """A token service with other settings but the same keys (so signatures are good)."""
    return TokenService(database=database, settings=settings, registry=lambda: manager.config.registry,
                        clock=fake_clock, keys=manager.keys)


def _family_statuses(database: Database) -> dict[str, list[str]]:
    with database.begin(read_only=True) as conn:
        rows = conn.execute(select(refresh_tokens.c.family, refresh_tokens.c.status)
                            .order_by(refresh_tokens.c.issued, refresh_tokens.c.jti)).all()
    found: dict[str, list[str]] = {}
    for family, status in rows:
        found.setdefault(family, []).append(status)
    return found


# -- issuing ------------------------------------------------------------------

def test_access_token_claims(manager: AuthManager, fake_clock: FakeClock) -> None:
    identity, pair = manager.issue("admin", vo="demo", group="demo_admin")
    assert identity == ADMIN
    header, _, _ = jwt_parts(pair.access_token)
    assert header["alg"] == "RS256" and header["kid"] == manager.keys.signing_key().kid
    claims = manager.tokens.claims(pair.access_token)
    now = _epoch(fake_clock.now())
    assert claims["sub"] == "demo:admin"
    assert claims["vo"] == "demo"
    assert claims["dirac_group"] == "demo_admin"
    assert claims["dirac_properties"] == sorted(ADMIN_PROPS)
    assert claims["preferred_username"] == "admin"
    assert claims["iss"] == ISSUER
    assert claims["aud"] == "dirac"
    assert claims["iat"] == now
    assert claims["exp"] == now + ACCESS_MINUTES * 60
    assert isinstance(claims["jti"], str) and claims["jti"]
    assert "typ" not in claims
    _, again = manager.issue("admin", vo="demo", group="demo_admin")
    assert manager.tokens.claims(again.access_token)["jti"] != claims["jti"]
    assert pair.expires_in == ACCESS_MINUTES * 60
    assert pair.response() == {"access_token": pair.access_token, "expires_in": ACCESS_MINUTES * 60,
                               "token_type": "Bearer", "refresh_token": pair.refresh_token}


def test_refresh_token_claims(manager: AuthManager, fake_clock: FakeClock) -> None:
    _, pair = manager.issue("alice", vo="demo")
    claims = manager.tokens.claims(pair.refresh_token, kind="refresh")
    now = _epoch(fake_clock.now())
    assert claims["typ"] == "refresh"
    assert claims["sub"] == "demo:alice"
    assert claims["iss"] == ISSUER and claims["aud"] == "dirac"
    assert claims["iat"] == now and claims["exp"] == now + REFRESH_MINUTES * 60
    assert claims["jti"] != manager.tokens.claims(pair.access_token)["jti"]


def test_access_minutes_override(manager: AuthManager, fake_clock: FakeClock) -> None:
    _, pair = manager.issue("alice", vo="demo", access_minutes=3)
    assert pair.expires_in == 180
    assert manager.tokens.claims(pair.access_token)["exp"] == _epoch(fake_clock.now()) + 180


def test_identity_of_an_access_token(manager: AuthManager) -> None:
    identity, pair = manager.issue("admin", vo="demo", group="demo_admin", properties=frozenset({"Operator"}))
    assert manager.tokens.identity(pair.access_token) == identity == Identity(
        user="admin", group="demo_admin", vo="demo", properties={"Operator"})


# -- time -----------------------------------------------------------------------

def test_expired_token(manager: AuthManager, fake_clock: FakeClock) -> None:
    identity, pair = manager.issue("alice", vo="demo")
    fake_clock.advance(timedelta(minutes=ACCESS_MINUTES) + LEEWAY)
    assert manager.tokens.identity(pair.access_token) == identity  # within the leeway
    fake_clock.advance(timedelta(seconds=1))
    with pytest.raises(NotAuthenticated, match="expired"):
        manager.tokens.identity(pair.access_token)


def test_expired_refresh_token(manager: AuthManager, fake_clock: FakeClock) -> None:
    _, pair = manager.issue("alice", vo="demo")
    fake_clock.advance(timedelta(minutes=REFRESH_MINUTES) + LEEWAY + timedelta(seconds=1))
    with pytest.raises(NotAuthenticated, match="expired"):
        manager.tokens.refresh(pair.refresh_token)


def test_token_issued_in_the_future(manager: AuthManager, fake_clock: FakeClock) -> None:
    tokens = manager.tokens
    now = fake_clock.now()
    lifetime = timedelta(minutes=10)
    near = tokens.sign(tokens.access_claims(ADMIN, now + LEEWAY, lifetime))
    assert tokens.claims(near)["iat"] == _epoch(now + LEEWAY)  # clock skew within the leeway
    far = tokens.sign(tokens.access_claims(ADMIN, now + LEEWAY + timedelta(seconds=1), lifetime))
    with pytest.raises(NotAuthenticated, match="not yet valid"):
        tokens.claims(far)


def test_token_not_valid_before(manager: AuthManager, fake_clock: FakeClock) -> None:
    tokens = manager.tokens
    now = fake_clock.now()
    claims = tokens.access_claims(ADMIN, now, timedelta(minutes=10))
    assert tokens.claims(tokens.sign({**claims, "nbf": _epoch(now + LEEWAY)}))["nbf"]
    with pytest.raises(NotAuthenticated, match="not yet valid"):
        tokens.claims(tokens.sign({**claims, "nbf": _epoch(now + LEEWAY) + 1}))
    fake_clock.advance(timedelta(seconds=1))
    assert tokens.claims(tokens.sign({**claims, "nbf": _epoch(now + LEEWAY) + 1}))


def test_claims_of_the_wrong_type(manager: AuthManager, fake_clock: FakeClock) -> None:
    tokens = manager.tokens
    claims = tokens.access_claims(ADMIN, fake_clock.now(), timedelta(minutes=10))
    assert tokens.claims(tokens.sign(claims))
    for bad in ({"exp": None}, {"exp": "2030-01-01"}, {"iat": "now"}, {"nbf": 1.5e12}):
        with pytest.raises(NotAuthenticated):
            tokens.claims(tokens.sign({**claims, **bad}))
    without_exp = {key: value for key, value in claims.items() if key != "exp"}
    with pytest.raises(NotAuthenticated):
        tokens.claims(tokens.sign(without_exp))


# -- forgeries --------------------------------------------------------------------

def test_changed_payload_breaks_the_signature(manager: AuthManager) -> None:
    _, pair = manager.issue("alice", vo="demo")
    assert manager.tokens.identity(pair.access_token).user == "alice"
    header, payload, signature = jwt_parts(pair.access_token)
    forged = compact(header, {**payload, "dirac_group": "demo_admin", "preferred_username": "admin",
                              "dirac_properties": sorted(ADMIN_PROPS)}, signature)
    with pytest.raises(NotAuthenticated, match="invalid"):
        manager.tokens.identity(forged)
    # one flipped character of the payload is enough
    head, body, sig = pair.access_token.split(".")
    flipped = body[:10] + ("A" if body[10] != "A" else "B") + body[11:]
    with pytest.raises(NotAuthenticated, match="invalid"):
        manager.tokens.identity(f"{head}.{flipped}.{sig}")
    with pytest.raises(NotAuthenticated, match="invalid"):
        manager.tokens.identity(f"{head}.{body}.{sig[:-4]}AAAA")


def test_signed_by_another_key_with_the_same_kid(manager: AuthManager, fake_clock: FakeClock) -> None:
    tokens = manager.tokens
    kid = str(manager.keys.signing_key().kid)
    claims = tokens.access_claims(ADMIN, fake_clock.now(), timedelta(minutes=10))
    assert tokens.identity(tokens.sign(claims)) == ADMIN
    impostor = RSAKey.generate_key(2048, parameters={"kid": kid, "alg": "RS256"})
    forged = jwt.encode({"alg": "RS256", "kid": kid, "typ": "JWT"}, claims, impostor, algorithms=["RS256"])
    with pytest.raises(NotAuthenticated, match="invalid"):
        tokens.identity(forged)
    no_kid = jwt.encode({"alg": "RS256", "typ": "JWT"}, claims, impostor, algorithms=["RS256"])
    with pytest.raises(NotAuthenticated, match="invalid"):
        tokens.identity(no_kid)


def test_alg_none_is_refused(manager: AuthManager, fake_clock: FakeClock) -> None:
    tokens = manager.tokens
    kid = manager.keys.signing_key().kid
    claims = tokens.access_claims(ADMIN, fake_clock.now(), timedelta(minutes=10))
    for alg in ("none", "None", "NONE"):
        with pytest.raises(NotAuthenticated, match="invalid"):
            tokens.identity(compact({"alg": alg, "kid": kid, "typ": "JWT"}, claims))
    good_signature = tokens.sign(claims).split(".")[2]
    with pytest.raises(NotAuthenticated, match="invalid"):
        tokens.identity(compact({"alg": "none", "kid": kid}, claims, good_signature))


def test_hs256_with_the_public_key_as_secret_is_refused(manager: AuthManager,
                                                        fake_clock: FakeClock) -> None:
    tokens = manager.tokens
    key = manager.keys.signing_key()
    claims = tokens.access_claims(ADMIN, fake_clock.now(), timedelta(minutes=10))
    public_forms = [key.as_pem(private=False),
                    json.dumps(manager.keys.public_jwks()).encode(),
                    json.dumps(key.as_dict(private=False)).encode()]
    for secret in public_forms:
        header = b64(json.dumps({"alg": "HS256", "kid": key.kid, "typ": "JWT"}).encode())
        payload = b64(json.dumps(claims).encode())
        mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        with pytest.raises(NotAuthenticated, match="invalid"):
            tokens.identity(f"{header}.{payload}.{b64(mac)}")


def test_wrong_issuer(manager: AuthManager, database: Database, fake_clock: FakeClock) -> None:
    evil = _other_service(manager, database, fake_clock, AuthSettings(issuer="https://evil.example.org"))
    pair = evil.issue(ADMIN, "vo:demo group:demo_admin")
    assert evil.identity(pair.access_token) == ADMIN
    with pytest.raises(NotAuthenticated, match="invalid"):
        manager.tokens.identity(pair.access_token)
    with pytest.raises(NotAuthenticated, match="invalid"):
        manager.tokens.refresh(pair.refresh_token)
    with pytest.raises(NotAuthenticated, match="invalid"):
        evil.identity(manager.issue("admin", vo="demo", group="demo_admin")[1].access_token)


def test_wrong_audience(manager: AuthManager, database: Database, fake_clock: FakeClock) -> None:
    other = _other_service(manager, database, fake_clock, AuthSettings(issuer=ISSUER, audience="other"))
    pair = other.issue(ADMIN, "vo:demo group:demo_admin")
    assert other.identity(pair.access_token) == ADMIN
    with pytest.raises(NotAuthenticated, match="invalid"):
        manager.tokens.identity(pair.access_token)
    with pytest.raises(NotAuthenticated, match="invalid"):
        manager.tokens.refresh(pair.refresh_token)


def _garbage(real: str) -> list[str]:
    head, body, sig = real.split(".")
    return [
        "", "abc", "a.b", "a.b.c", "..", "...", "a.b.c.d", f"{real}.", f"{head}.{body}",
        f"{head}.{body}.{sig}.{sig}", "é.é.é", "\x00.\x00.\x00", f"{real} ", f" {real}",
        f"Bearer {real}", real.replace(".", ".\n", 1),
        f"{b64(b'not json')}.{body}.{sig}", f"{b64(b'[1, 2]')}.{body}.{sig}",
        f"{b64(bytes([255, 254]))}.{body}.{sig}", f"{b64(b'{}')}.{body}.{sig}",
        f"{b64(json.dumps({'alg': 'RS256', 'kid': 5}).encode())}.{body}.{sig}",
        f"{b64(json.dumps({'alg': 'RS256', 'kid': 'unknown'}).encode())}.{body}.{sig}",
        f"{head}.{b64(b'not json')}.{sig}", f"{head}.{body}.{b64(b'x' * 256)}",
        # deeply nested JSON in the header
        f"{b64(b'[' * 5000)}.{body}.{sig}", f"{b64(b'{' * 5000)}.{body}.{sig}",
    ]


def test_garbage_strings(manager: AuthManager) -> None:
    _, pair = manager.issue("alice", vo="demo")
    assert manager.tokens.identity(pair.access_token).user == "alice"
    for garbage in _garbage(pair.access_token):
        with pytest.raises(NotAuthenticated):
            manager.tokens.identity(garbage)
        with pytest.raises(NotAuthenticated):
            manager.tokens.refresh(garbage)
        assert manager.tokens.revoke(garbage) is None


def test_oversize_token(manager: AuthManager, fake_clock: FakeClock) -> None:
    tokens = manager.tokens
    claims = tokens.access_claims(ADMIN, fake_clock.now(), timedelta(minutes=10))
    small = tokens.sign({**claims, "padding": "x" * 1000})
    assert tokens.identity(small) == ADMIN
    pad = MAX_TOKEN_BYTES * 3 // 4 - len(tokens.sign(claims)) * 3 // 4 + 10
    big = tokens.sign({**claims, "padding": "x" * pad})
    assert MAX_TOKEN_BYTES < len(big) < MAX_TOKEN_BYTES + 100
    with pytest.raises(NotAuthenticated, match="invalid"):
        tokens.identity(big)


# -- kinds ----------------------------------------------------------------------------

def test_refresh_token_is_no_access_token_and_vice_versa(manager: AuthManager, database: Database) -> None:
    _, pair = manager.issue("alice", vo="demo")
    with pytest.raises(NotAuthenticated, match="invalid"):
        manager.tokens.identity(pair.refresh_token)
    with pytest.raises(NotAuthenticated, match="invalid"):
        manager.tokens.claims(pair.access_token, kind="refresh")
    with pytest.raises(NotAuthenticated, match="invalid"):
        manager.tokens.refresh(pair.access_token)
    assert manager.tokens.revoke(pair.access_token) is None
    assert list(_family_statuses(database).values()) == [["active"]]
    # the right way round, both work
    assert manager.tokens.identity(pair.access_token).user == "alice"
    assert manager.tokens.refresh(pair.refresh_token).access_token


# -- the registry is read at every check ----------------------------------------------------

def test_user_removed_from_the_group(manager: AuthManager) -> None:
    _, alice = manager.issue("alice", vo="demo")
    _, bob = manager.issue("bob", vo="demo")
    manager.config = make_config(demo_user=("bob", "carol"))
    with pytest.raises(NotAuthenticated, match="no longer"):
        manager.tokens.identity(alice.access_token)
    with pytest.raises(NotAuthenticated, match="no longer"):
        manager.tokens.refresh(alice.refresh_token)
    assert manager.tokens.identity(bob.access_token).user == "bob"
    assert manager.tokens.refresh(bob.refresh_token).access_token


def test_group_that_lost_a_property(manager: AuthManager) -> None:
    _, pair = manager.issue("admin", vo="demo", group="demo_admin")
    manager.config = make_config(admin_props=("NormalUser",))
    assert manager.tokens.identity(pair.access_token).properties == {"NormalUser"}
    # a property the group gains is not added to an existing token
    manager.config = make_config(admin_props=(*ADMIN_PROPS, "Pilot"))
    assert manager.tokens.identity(pair.access_token).properties == set(ADMIN_PROPS)


# -- refresh, replay, revoke --------------------------------------------------------------

def test_refresh_returns_a_new_pair_of_the_same_login(manager: AuthManager, database: Database,
                                                      fake_clock: FakeClock) -> None:
    identity, first = manager.issue("admin", vo="demo", group="demo_admin",
                                    properties=frozenset({"Operator"}))
    fake_clock.advance(timedelta(minutes=5))
    second = manager.tokens.refresh(first.refresh_token)
    assert second.access_token != first.access_token
    assert second.refresh_token != first.refresh_token
    assert manager.tokens.identity(second.access_token) == identity
    claims = manager.tokens.claims(second.refresh_token, kind="refresh")
    assert claims["iat"] == _epoch(fake_clock.now())
    fake_clock.advance(timedelta(minutes=5))
    third = manager.tokens.refresh(second.refresh_token)
    assert manager.tokens.identity(third.access_token) == identity
    assert list(_family_statuses(database).values()) == [["rotated", "rotated", "active"]]


def test_replayed_refresh_token_revokes_the_family(manager: AuthManager, database: Database) -> None:
    _, first = manager.issue("alice", vo="demo")
    _, other_login = manager.issue("alice", vo="demo")
    second = manager.tokens.refresh(first.refresh_token)
    with pytest.raises(NotAuthenticated, match="already used"):
        manager.tokens.refresh(first.refresh_token)
    with pytest.raises(NotAuthenticated):  # the thief's or the owner's new token: both dead
        manager.tokens.refresh(second.refresh_token)
    statuses = _family_statuses(database)
    assert sorted(statuses.values()) == [["active"], ["revoked", "revoked"]]
    # another login of the same user is not affected
    assert manager.tokens.refresh(other_login.refresh_token).access_token


def test_unknown_refresh_token_jti(manager: AuthManager, fake_clock: FakeClock) -> None:
    _, pair = manager.issue("alice", vo="demo")
    claims = manager.tokens.claims(pair.refresh_token, kind="refresh")
    stranger = manager.tokens.sign({**claims, "jti": "not-in-the-database"})
    with pytest.raises(NotAuthenticated, match="invalid"):
        manager.tokens.refresh(stranger)
    assert manager.tokens.revoke(stranger) is None
    assert manager.tokens.refresh(pair.refresh_token).access_token


def test_revoke_the_family(manager: AuthManager, database: Database) -> None:
    _, first = manager.issue("alice", vo="demo")
    _, other_login = manager.issue("alice", vo="demo")
    second = manager.tokens.refresh(first.refresh_token)
    jti = manager.tokens.claims(second.refresh_token, kind="refresh")["jti"]
    assert manager.tokens.revoke(second.refresh_token) == jti
    with pytest.raises(NotAuthenticated):
        manager.tokens.refresh(second.refresh_token)
    with pytest.raises(NotAuthenticated):
        manager.tokens.refresh(first.refresh_token)
    assert sorted(_family_statuses(database).values()) == [["active"], ["revoked", "revoked"]]
    # revoking twice is harmless; the access token lives until it expires (checked offline)
    assert manager.tokens.revoke(second.refresh_token) == jti
    assert manager.tokens.identity(second.access_token).user == "alice"
    assert manager.tokens.refresh(other_login.refresh_token).access_token


def test_revoke_of_garbage_returns_none(manager: AuthManager) -> None:
    for garbage in ("", "garbage", "a.b.c"):
        assert manager.tokens.revoke(garbage) is None

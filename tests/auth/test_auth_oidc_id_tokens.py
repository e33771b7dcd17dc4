"""ID-token checks (verify_id_token) against a key set made here: every forgery is refused."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, hmac
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from dirac_core.auth.id_tokens import InvalidIdToken, verify_id_token
from dirac_core.errors import NotAuthenticated

ISSUER = "https://op.example.org"
CLIENT = "dirac-client"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
NONCE = "n-0S6_WzA2Mj"

KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256", "use": "sig"})
OTHER = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256", "use": "sig"})  # same kid
ROTATED = ECKey.generate_key("P-256", parameters={"kid": "k2", "alg": "ES256", "use": "sig"})


def _public(*keys: RSAKey | ECKey) -> KeySet:
    return KeySet.import_key_set({"keys": [key.as_dict(private=False) for key in keys]})


class Jwks:
    """The provider's key set as the driver would fetch it; counts the fetches."""

    def __init__(self, *first: RSAKey | ECKey,
                 after_refresh: tuple[RSAKey | ECKey, ...] | None = None) -> None:
        self.current = _public(*first)
        self.after = _public(*after_refresh) if after_refresh else self.current
        self.refreshes = 0

    def __call__(self, refresh: bool) -> KeySet:
        if refresh:
            self.refreshes += 1
            self.current = self.after
        return self.current


def _claims(**changes: Any) -> dict[str, Any]:
    claims = {"iss": ISSUER, "aud": CLIENT, "sub": "alice-sub", "nonce": NONCE,
              "iat": int(NOW.timestamp()) - 10, "exp": int(NOW.timestamp()) + 3600,
              "email": "alice@example.org"}
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _sign(claims: dict[str, Any], key: RSAKey | ECKey = KEY, alg: str = "RS256") -> str:
    return jwt.encode({"alg": alg, "kid": key.kid}, claims, key, algorithms=[alg])


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _raw(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return ".".join([_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), _b64(signature)])


def _verify(token: str, jwks: Jwks | None = None, nonce: str | None = NONCE, **kwargs: Any) -> dict[str, Any]:
    return verify_id_token(token, jwks or Jwks(KEY), issuer=ISSUER, client_id=CLIENT, now=NOW,
                           nonce=nonce, leeway=60, **kwargs)


def _reason(token: str, jwks: Jwks | None = None, nonce: str | None = NONCE) -> str:
    with pytest.raises(InvalidIdToken) as info:
        _verify(token, jwks, nonce)
    assert isinstance(info.value, NotAuthenticated)  # the server answers 401
    return str(info.value.reason)


def test_a_good_token_gives_its_claims() -> None:
    claims = _verify(_sign(_claims()))
    assert claims["sub"] == "alice-sub" and claims["email"] == "alice@example.org"
    # an audience list with our client, azp naming us, within the leeway: still good
    assert _verify(_sign(_claims(aud=["other", CLIENT], azp=CLIENT, exp=int(NOW.timestamp()) - 30)))
    assert _verify(_sign(_claims(nonce=None)), nonce=None)["sub"] == "alice-sub"  # device flow: no nonce


def test_a_signature_by_another_key_is_refused() -> None:
    assert _reason(_sign(_claims(), key=OTHER)) == "its signature does not verify with the provider's key"
    good = _sign(_claims())
    head, _, sig = good.split(".")
    tampered = _raw(json.loads(base64.urlsafe_b64decode(head + "==")), _claims(sub="admin-sub"))
    assert _reason(".".join([*tampered.split(".")[:2], sig])) == \
        "its signature does not verify with the provider's key"


def test_alg_none_is_refused() -> None:
    for alg in ("none", "None", "NONE"):
        assert _reason(_raw({"alg": alg, "kid": "k1"}, _claims())) == "it is not signed (alg none)"
    assert _reason(_raw({"kid": "k1"}, _claims())) == "it is not signed (alg none)"


def test_hmac_with_the_public_key_as_secret_is_refused() -> None:
    # the classic key-confusion forgery: HS256 keyed with the provider's public key (PEM)
    pem = KEY.as_pem(private=False)
    header, claims = {"alg": "HS256", "kid": "k1", "typ": "JWT"}, _claims(sub="admin-sub")
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}".encode()
    mac = hmac.HMAC(pem, hashes.SHA256())
    mac.update(signing_input)
    token = f"{signing_input.decode()}.{_b64(mac.finalize())}"
    assert _reason(token) == "it is signed with a shared secret (HS256), not with the provider's key"
    assert _reason(_raw({"alg": "HS512", "kid": "k1"}, claims)) == \
        "it is signed with a shared secret (HS512), not with the provider's key"


def test_time_claims() -> None:
    now = int(NOW.timestamp())
    assert _reason(_sign(_claims(exp=now - 61))) == "it has expired"
    assert _reason(_sign(_claims(iat=now + 61))) == "it was issued in the future (iat)"
    assert _reason(_sign(_claims(nbf=now + 61))) == "it is not valid yet (nbf)"
    assert _reason(_sign(_claims(exp=None))) == "claim exp is missing or not a number"
    assert _reason(_sign(_claims(iat="yesterday"))) == "claim iat is missing or not a number"


def test_wrong_audience_issuer_nonce_subject() -> None:
    assert _reason(_sign(_claims(aud="someone-else"))) == \
        "it is not meant for this server (aud 'someone-else')"
    assert _reason(_sign(_claims(aud=["a", "b"]))).startswith("it is not meant for this server")
    assert _reason(_sign(_claims(aud=[CLIENT, "x"], azp="x"))) == "it was issued to another client (azp 'x')"
    assert _reason(_sign(_claims(iss="https://evil.example.org"))) == \
        "issuer 'https://evil.example.org' is not 'https://op.example.org'"
    assert _reason(_sign(_claims(nonce="replayed"))) == "its nonce is not the one of this login"
    assert _reason(_sign(_claims(nonce=None))) == "its nonce is not the one of this login"
    assert _reason(_sign(_claims(sub=""))) == "it has no subject (sub)"


def test_unknown_kid_refetches_the_key_set_once() -> None:
    rotated = Jwks(KEY, after_refresh=(KEY, ROTATED))
    token = _sign(_claims(), key=ROTATED, alg="ES256")
    assert _verify(token, rotated)["sub"] == "alice-sub"
    assert rotated.refreshes == 1
    assert _verify(token, rotated) and rotated.refreshes == 1  # known now: no new fetch
    stranger = RSAKey.generate_key(2048, parameters={"kid": "k9"})
    stale = Jwks(KEY)
    assert _reason(_sign(_claims(), key=stranger), stale) == "it is signed with an unknown key (kid 'k9')"
    assert stale.refreshes == 1


def test_malformed_tokens() -> None:
    for token in ("", "abc", "a.b", "a.b.c.d", "!!!.e30.", "x" * 20000):
        assert _reason(token) == "malformed token"
    # a key published for RS256 only is not used for PS512
    assert _reason(_raw({"alg": "PS512", "kid": "k1"}, _claims(), b"x" * 256)) == \
        "it cannot be checked (InvalidKeyIdError)"
    assert _reason(_raw({"alg": "RS1", "kid": "k1"}, _claims())) == "signature algorithm RS1 is not accepted"


def test_a_restricted_algorithm_list_is_honoured() -> None:
    token = _sign(_claims())
    with pytest.raises(InvalidIdToken, match="signature algorithm RS256 is not accepted"):
        _verify(token, algorithms=("ES256",))

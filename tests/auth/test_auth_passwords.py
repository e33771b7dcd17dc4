"""PBKDF2 password hashes: round trip, salts, and malformed stored values that never verify."""

from __future__ import annotations

import pytest

from dirac_core.auth import hash_password, verify_password
from dirac_core.auth.passwords import DEFAULT_ITERATIONS


def test_round_trip() -> None:
    stored = hash_password("correct horse", iterations=1000)
    assert stored.startswith("pbkdf2_sha256$1000$")
    assert verify_password("correct horse", stored)


def test_wrong_password_fails() -> None:
    stored = hash_password("correct horse", iterations=1000)
    for wrong in ("correct horse ", "Correct horse", "correct", "", "x" * 100):
        assert not verify_password(wrong, stored), wrong


def test_same_password_gets_a_new_salt_each_time() -> None:
    first, second = (hash_password("pw", iterations=1000) for _ in range(2))
    assert first != second
    assert verify_password("pw", first) and verify_password("pw", second)


def test_unicode_password() -> None:
    stored = hash_password("pässwörd-日本", iterations=1000)
    assert verify_password("pässwörd-日本", stored)
    assert not verify_password("passwort-日本", stored)


def test_iterations_are_read_from_the_stored_hash() -> None:
    stored = hash_password("pw", iterations=1234)
    assert stored.split("$")[1] == "1234"
    assert verify_password("pw", stored)
    # the iteration count is part of what is verified
    _, _, salt, digest = stored.split("$")
    assert not verify_password("pw", f"pbkdf2_sha256$1235${salt}${digest}")


def test_default_iterations_are_strong() -> None:
    assert DEFAULT_ITERATIONS >= 600_000


def test_empty_password_is_refused_when_hashing() -> None:
    with pytest.raises(ValueError, match="empty password"):
        hash_password("", iterations=1000)


def _malformed() -> list[str | None]:
    good = hash_password("pw", iterations=1000)
    scheme, rounds, salt, digest = good.split("$")
    return [
        None,
        "",
        "pw",
        f"md5${rounds}${salt}${digest}",  # wrong scheme
        f"pbkdf2_sha1${rounds}${salt}${digest}",
        f"{scheme}$many${salt}${digest}",  # non-integer iterations
        f"{scheme}$1.5${salt}${digest}",
        f"{scheme}$0${salt}${digest}",  # out of range
        f"{scheme}$-5${salt}${digest}",
        f"{scheme}$99999999999${salt}${digest}",
        f"{scheme}${rounds}$@@@@é${digest}",  # bad base64
        f"{scheme}${rounds}${salt}$abcde",  # bad base64 length
        f"{scheme}${rounds}${salt}$é",
        f"{scheme}${rounds}${salt}$",  # empty digest
        f"{scheme}${rounds}${salt}",  # too few fields
        f"{good}$extra",  # too many fields
    ]


@pytest.mark.parametrize("stored", _malformed())
def test_malformed_stored_hash_returns_false(stored: str | None) -> None:
    assert verify_password("pw", stored) is False


"""LFN normalisation and validation, including hypothesis fuzzing (only InvalidLFN may escape)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dirac_core.model.lfn import (
    MAX_DEPTH,
    MAX_NAME_LENGTH,
    InvalidLFN,
    lfn_parent,
    normalize_lfn,
    normalize_lfns,
)


@pytest.mark.parametrize(("given_lfn", "canonical"), [
    ("/demo/user/a/file", "/demo/user/a/file"),
    ("LFN:/demo//user/a/", "/demo/user/a"),
    ("lfn:/grid/demo/x", "/demo/x"),
    ("  /demo/x  ", "/demo/x"),
])
def test_what_users_type_becomes_one_spelling(given_lfn: str, canonical: str) -> None:
    assert normalize_lfn(given_lfn) == canonical


@pytest.mark.parametrize(("bad", "why"), [
    ("", "empty"), ("LFN:", "empty"), ("demo/x", "not absolute"), ("/", "names the root"),
    ("/grid/", "names the root"), ("/demo/../etc/passwd", "'..'"), ("/demo/./x", "'.'"),
    ("/demo/a\x00b", "control character"), ("/demo/a\\b", "backslash"),
    ("/demo/" + "n" * (MAX_NAME_LENGTH + 1), "longer than"),
    ("/" + "/".join(["d"] * (MAX_DEPTH + 1)), "levels deep"),
    ("/" + "/".join(["x" * 100] * 11), "characters long"),
])
def test_what_no_catalog_may_store_is_refused(bad: str, why: str) -> None:
    with pytest.raises(InvalidLFN, match=why):
        normalize_lfn(bad)


def test_bulk_normalisation_fails_per_item() -> None:
    good, bad = normalize_lfns(["/demo/a", "/demo/../b", 7])
    assert good == {"/demo/a": "/demo/a"}
    assert set(bad) == {"/demo/../b", "7"}
    assert "not int" in str(bad["7"])


def test_parent() -> None:
    assert lfn_parent("/demo/a/b") == "/demo/a"
    assert lfn_parent("/demo") == "/"


@given(st.text(max_size=300))
def test_any_text_gives_a_canonical_lfn_or_invalid_lfn(text: str) -> None:
    try:
        lfn = normalize_lfn(text)
    except InvalidLFN:
        return
    assert lfn.startswith("/") and "//" not in lfn and not lfn.endswith("/")
    assert ".." not in lfn.split("/")
    assert normalize_lfn(lfn) == lfn  # idempotent

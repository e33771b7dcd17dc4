"""Fuzzing the parsers that read what users send: JDL, metadata queries, LFNs.

Each may raise only its documented error (``JDLError``, ``QueryError``, ``InvalidLFN``), never
another exception (an ``IndexError``, a ``RecursionError`` on deep nesting...), and what it
accepts round-trips. Hypothesis runs derandomized with a bounded number of examples: the same
inputs on every run, a few seconds in all.
"""

from __future__ import annotations

import contextlib
import math
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dirac_core.dms.metaquery import QueryError, Term, matches, normalize_query, parse_query
from dirac_core.errors import JDLError
from dirac_core.jdl import JobDescription, dump, dumps, loads, parse
from dirac_core.model.lfn import MAX_LFN_LENGTH, InvalidLFN, normalize_lfn

FUZZ = settings(max_examples=300, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow])

# --- JDL ----------------------------------------------------------------------------------------

#: pieces of JDL text, so that the fuzzer reaches deep into the grammar rather than failing at once
_JDL_PIECES = st.sampled_from([
    "[", "]", "{", "}", "=", ";", ",", " ", "\n", '"', '\\"', "\\\\", "\\n", "\\q", "#", "//", "/*", "*/",
    "Executable", "Arguments", "CPUTime", "Priority", "InputData", "InputSandbox", "Parameters",
    "ParameterStart", "ParameterStep", "Site", "Tags", "JobRequirements", "true", "false", "True",
    "0", "-1", "1.5", "1e400", "-0", "99999999999999999999", "1e3", ".5", "007", '"/bin/echo"',
    '"LFN:/demo/a"', '"%s"', "%n", "Name", "é", "\x00", "\t", "\r",
])
_JDL_TEXT = st.one_of(st.text(max_size=200), st.lists(_JDL_PIECES, max_size=40).map("".join))

_NAMES = st.sampled_from(["Arguments", "JobName", "Site", "Tags", "Owner", "MyAttr", "X_1"])
_SCALARS = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20),
    st.integers(-(2**70), 2**70), st.floats(allow_nan=False, allow_infinity=False), st.booleans())
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4), max_leaves=10)


def _jdl_of(ad: dict[str, Any]) -> str:
    """A description with an executable and ``ad``'s attributes, written by the library."""
    return dump({"Executable": "/bin/echo", **ad})


@FUZZ
@given(_JDL_TEXT)
def test_jdl_text_loads_or_raises_jdl_error(text: str) -> None:
    try:
        description = loads(text)
    except JDLError:
        return
    assert isinstance(description, JobDescription)
    _round_trips(description)


@FUZZ
@given(st.dictionaries(_NAMES, _VALUES, max_size=5))
def test_jdl_written_by_the_library_round_trips(ad: dict[str, Any]) -> None:
    try:
        description = loads(_jdl_of(ad))
    except JDLError:
        return  # a value the description refuses (a Site that is a number...), refused cleanly
    _round_trips(description)


def _round_trips(description: JobDescription) -> None:
    """``loads(dumps(d)) == d``, and writing it again gives the same text."""
    text = dumps(description)
    again = loads(text)
    assert again == description
    assert dumps(again) == text


@pytest.mark.parametrize("text", [
    "[A = " * 10_000, "A = " + "{" * 100_000, "Executable = \"x\"; A = " + "[B = " * 5_000,
    "A = " + "{" * 65 + "1" + "}" * 65,
])
def test_deep_nesting_is_a_jdl_error_not_a_recursion_error(text: str) -> None:
    with pytest.raises(JDLError, match="nested more than 64 levels"):
        parse(text)


def test_nesting_within_the_limit_parses() -> None:
    text = 'Executable = "x"; A = ' + "{" * 64 + "1" + "}" * 64
    assert parse(text)["A"] is not None


# --- metadata queries ------------------------------------------------------------------------

FIELDS = {"zenith": "int", "energy": "float", "particle": "string", "taken": "date"}
_QUERY_PIECES = st.sampled_from([
    "zenith", "energy", "particle", "taken", "Size", "SE", "Name", "bogus", "=", "!=", "<", "<=", ">",
    ">=", "!", ",", " ", '"', "'", "Any", "Missing", "1", "2.5", "-3", "1e999", "nan", "inf", "x y", "*",
    "?", "2024-05-01", "9999-99-99", "99999999999999999999", "\t", "é", "\x00",
])
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8)
_CONDITIONS = st.one_of(
    _JSON, st.sampled_from(["Any", "Missing", "a*", "?b"]),
    st.dictionaries(st.sampled_from(["=", "!=", "<", "<=", ">", ">=", "in", "nin", "like", "~"]), _JSON,
                    max_size=3))
_METADATA = st.dictionaries(st.sampled_from(["zenith", "energy", "particle", "taken", "Size", "SE"]),
                            _JSON | st.datetimes(timezones=st.just(UTC)), max_size=4)


@FUZZ
@given(st.one_of(st.text(max_size=120), st.lists(_QUERY_PIECES, max_size=25).map("".join)))
def test_query_text_parses_or_raises_query_error(text: str) -> None:
    try:
        query = parse_query(text, FIELDS)
    except QueryError:
        return
    terms = normalize_query(query, FIELDS)  # what the parser accepts, the normaliser accepts
    assert all(isinstance(term, Term) for term in terms)
    assert normalize_query(query, FIELDS) == terms


@FUZZ
@given(st.dictionaries(st.sampled_from([*FIELDS, "Size", "SE", "Name", "bogus", ""]), _CONDITIONS,
                       max_size=4), _METADATA)
def test_any_json_query_normalises_or_raises_query_error(query: dict[str, Any],
                                                         metadata: dict[str, Any]) -> None:
    # what reaches the server's /api/catalog/find as JSON
    try:
        terms = normalize_query(query, FIELDS, file_fields=("particle",))
    except QueryError as exc:
        message = str(exc)
        assert len(message) < 2000  # the message shows the value cut short
        return
    for term in terms:
        if term.op in ("in", "nin"):
            assert isinstance(term.value, tuple) and term.value
        if isinstance(term.value, float):
            assert math.isfinite(term.value)
        if isinstance(term.value, int) and not isinstance(term.value, bool):
            assert -(2**63) <= term.value < 2**63  # what a BIGINT holds
        if isinstance(term.value, datetime):
            assert term.value.tzinfo is not None
    with contextlib.suppress(QueryError):  # a metadata value that is not of its field's type
        assert matches(terms, metadata, FIELDS) in (True, False)


@pytest.mark.parametrize("depth", [100, 5_000])
def test_deeply_nested_query_values_are_a_query_error(depth: int) -> None:
    nested: Any = 1
    for _ in range(depth):
        nested = [nested]
    with pytest.raises(QueryError, match=r"not a valid int"):
        normalize_query({"zenith": nested}, FIELDS)
    with pytest.raises(QueryError):
        normalize_query({"zenith": {"=": nested}}, FIELDS)


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**400, "1" * 5000])
def test_integers_a_database_cannot_hold_are_refused(value: object) -> None:
    with pytest.raises(QueryError, match="not a valid int"):
        normalize_query({"zenith": value}, FIELDS)


@pytest.mark.parametrize("value", ["inf", "-inf", "1e999", float("inf"), float("nan")])
def test_non_finite_floats_are_refused(value: object) -> None:
    with pytest.raises(QueryError, match="not a valid float"):
        normalize_query({"energy": value}, FIELDS)


# --- LFNs ----------------------------------------------------------------------------------------

_LFN_PIECES = st.sampled_from(["/", "//", ".", "..", "demo", "data", "f.txt", "grid", "LFN:", "lfn:", " ",
                               "\\", "\x00", "\x7f", "\n", "é", "%2e%2e", "...", "a" * 129, "~", "$HOME"])
_ANYTHING = st.one_of(st.text(max_size=300), st.lists(_LFN_PIECES, max_size=30).map("".join),
                      st.none(), st.integers(), st.binary(max_size=20), st.lists(st.text(max_size=5)))


@FUZZ
@given(_ANYTHING)
def test_lfn_is_canonical_or_invalid(given_lfn: object) -> None:
    try:
        lfn = normalize_lfn(given_lfn)
    except InvalidLFN as exc:
        message = str(exc)
        assert len(message) < 2 * MAX_LFN_LENGTH + 200
        return
    parts = lfn.split("/")
    assert lfn.startswith("/") and parts[0] == "" and all(parts[1:])  # absolute, no '//', no trailing '/'
    assert not {".", ".."} & set(parts)
    assert "\\" not in lfn and not any(ord(c) < 32 or ord(c) == 127 for c in lfn)
    assert len(lfn) <= MAX_LFN_LENGTH
    assert normalize_lfn(lfn) == lfn  # idempotent: one spelling


@pytest.mark.parametrize("bad", [
    "/demo/../etc/passwd", "/demo/data/..", "/..", "/demo/./f", "demo/f", "../demo/f", "/demo/a\x00b",
    "/demo\\..\\etc", "/demo/a\\b", "/demo/\n/f", "LFN:../x", "/grid/../x", "", "/", "//",
])
def test_traversal_and_odd_lfns_are_refused(bad: str) -> None:
    with pytest.raises(InvalidLFN):
        normalize_lfn(bad)


@pytest.mark.parametrize(("doubled", "canonical"), [
    ("//demo//data///f", "/demo/data/f"), ("/demo/data/f/", "/demo/data/f"), ("//etc/passwd", "/etc/passwd"),
])
def test_doubled_slashes_collapse_and_never_escape(doubled: str, canonical: str) -> None:
    # one spelling per name: the result is a name inside the namespace like any other (storage
    # paths are joined under the storage's base: tests/security/test_sec_traversal.py)
    assert normalize_lfn(doubled) == canonical

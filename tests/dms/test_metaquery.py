"""Metadata queries: DIRAC's dictionary forms, its CLI language, the normal form and the matcher."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dirac_core.dms.metaquery import (
    STANDARD_FILE_KEYS,
    Op,
    QueryError,
    Term,
    canonical_type,
    coerce,
    like_to_regex,
    like_to_sql,
    matches,
    normalize_query,
    parse_query,
)
from dirac_core.errors import DiracError

FIELDS = {"zenith": "int", "energy": "float", "particle": "string", "taken": "date", "tag": "string"}
FILE_FIELDS = {"tag"}


# --- the CLI language: every example of the reference -------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("zenith=10,11 energy<1.5", {"zenith": {"in": [10, 11]}, "energy": {"<": 1.5}}),
    ("zenith!=10,20", {"zenith": {"nin": [10, 20]}}),
    ("zenith>=5 zenith<10", {"zenith": {">=": 5, "<": 10}}),
    ("zenith=5 zenith=6", {"zenith": [5, 6]}),
])
def test_reference_cli_examples(text: str, expected: dict[str, Any]) -> None:
    assert parse_query(text, FIELDS) == expected


def test_cli_values_are_typed_by_the_field() -> None:
    query = parse_query("zenith=10 energy=2 particle=10", FIELDS)
    assert query == {"zenith": 10, "energy": 2.0, "particle": "10"}
    assert type(query["zenith"]) is int and type(query["energy"]) is float and type(query["particle"]) is str
    with pytest.raises(QueryError, match="not a valid int"):
        parse_query("zenith=1.5", FIELDS)


def test_cli_quoted_values_may_hold_spaces_and_commas() -> None:
    assert parse_query('particle="pi plus" tag=\'a b\'', FIELDS) == {"particle": "pi plus", "tag": "a b"}
    assert parse_query('particle="a,b",c', FIELDS) == {"particle": {"in": ["a,b", "c"]}}
    # a quoted Any is the string, not "the field is defined"
    assert parse_query('particle="Any"', FIELDS) == {"particle": {"=": "Any"}}


def test_cli_any_missing_and_combinations() -> None:
    assert parse_query("zenith=Any particle=Missing", FIELDS) == {"zenith": "Any", "particle": "Missing"}
    assert parse_query("zenith=5 zenith<9 zenith!=7", FIELDS) == {"zenith": {"=": 5, "!=": 7, "<": 9}}
    assert parse_query("zenith=1,2 zenith=3", FIELDS) == {"zenith": {"in": [1, 2, 3]}}
    assert parse_query("zenith!=1 zenith!=2", FIELDS) == {"zenith": {"nin": [1, 2]}}
    assert parse_query("zenith=5 zenith=5", FIELDS) == {"zenith": 5}
    assert parse_query("taken>2024-01-01", FIELDS) == {"taken": {">": "2024-01-01"}}
    assert parse_query("Owner=alice SE=CERN-*", FIELDS) == {"User": "alice", "SE": "CERN-*"}
    assert parse_query("  ", FIELDS) == {}


@pytest.mark.parametrize(("text", "message"), [
    ("zenith", "Illegal query element 'zenith'"),
    ("=5", "Illegal query element"),
    ("zenith!5", "Illegal query element"),
    ('"zenith"=5', "Illegal query element"),
    ("azimuth=5", "Metadata field 'azimuth' not defined"),
    ("zenith<5,6", "list of values for comparison operation"),
    ("zenith=", "empty value"),
    ("zenith=1,,2", "empty value"),
    ('particle="pi', "unclosed quote"),
    ("zenith<Any", "Any/Missing only stand alone"),
    ("zenith=1,Missing", "Any/Missing only stand alone"),
    ("zenith=Any zenith=Missing", "both given"),
    ("zenith=Any zenith<3", "cannot be combined"),
    ("zenith<3 zenith<4", "given twice"),
    ("taken>yesterday", "not a valid date"),
])
def test_cli_errors(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse_query(text, FIELDS)


_PIECES = st.sampled_from(["zenith", "energy", "particle", "taken", "Size", "SE", "bogus", "=", "!=", "<",
                           "<=", ">", ">=", "!", ",", " ", '"', "'", "Any", "Missing", "1", "2.5", "-3",
                           "x y", "*", "?", "2024-05-01", "nan", "\t", "é"])


@given(st.one_of(st.text(max_size=80), st.lists(_PIECES, max_size=20).map("".join)))
def test_any_text_parses_to_a_query_or_a_query_error(text: str) -> None:
    try:
        query = parse_query(text, FIELDS)
    except QueryError:
        return
    assert isinstance(query, dict)
    # what the parser accepts, the normaliser accepts too
    terms = normalize_query(query, FIELDS, file_fields=FILE_FIELDS)
    assert all(isinstance(t, Term) for t in terms)


# --- the dictionary forms and the normal form ---------------------------------

def test_each_dictionary_form_gives_terms() -> None:
    terms = normalize_query({
        "zenith": 10,
        "energy": [1, 2.5],
        "particle": {"!=": "pi", "in": ["mu", "e"]},
        "taken": "Any",
        "tag": "Missing",
    }, FIELDS, file_fields=FILE_FIELDS)
    assert terms == (
        Term("zenith", Op.EQ, 10),
        Term("energy", Op.IN, (1.0, 2.5)),
        Term("particle", Op.NE, "pi"),
        Term("particle", Op.IN, ("mu", "e")),
        Term("taken", Op.ANY),
        Term("tag", Op.MISSING),
    )
    assert terms[0].op == "=" and terms[1].op == "in"  # a StrEnum compares with the strings


def test_every_operator_is_accepted() -> None:
    ops = {"=": 1, "!=": 2, "<": 3, "<=": 4, ">": 5, ">=": 6, "in": [7, 8], "nin": [9]}
    terms = normalize_query({"zenith": ops}, FIELDS)
    assert [t.op.value for t in terms] == list(ops)
    assert terms[-1].value == (9,)


def test_list_operands_of_equality_and_scalar_operands_of_in() -> None:
    assert normalize_query({"zenith": {"=": [1, 2], "!=": [3], "in": 4, "nin": 5}}, FIELDS) == (
        Term("zenith", Op.IN, (1, 2)), Term("zenith", Op.NIN, (3,)),
        Term("zenith", Op.IN, (4,)), Term("zenith", Op.NIN, (5,)))
    assert normalize_query({"zenith": [3, 3, "3", 4]}, FIELDS) == (Term("zenith", Op.IN, (3, 4)),)
    assert normalize_query({"zenith": {2, 1}}, FIELDS) == (Term("zenith", Op.IN, (1, 2)),)


def test_dates_become_aware_utc() -> None:
    expected = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
    for value in ("2024-03-01 12:00:00", "2024-03-01T13:00:00+01:00", "2024-03-01T12:00:00Z",
                  datetime(2024, 3, 1, 12), datetime(2024, 3, 1, 14, tzinfo=timezone(timedelta(hours=2)))):
        (term,) = normalize_query({"taken": {">": value}}, FIELDS)
        assert term.value == expected and term.value.tzinfo is UTC
    (term,) = normalize_query({"CreationDate": date(2024, 3, 1)}, FIELDS)
    assert term.value == datetime(2024, 3, 1, tzinfo=UTC)


@pytest.mark.parametrize(("query", "message"), [
    ({"zenith": "ten"}, "'ten' of metadata zenith is not a valid int"),
    ({"zenith": 1.5}, "not a valid int"),
    ({"zenith": True}, "not a valid int"),
    ({"energy": "nan"}, "not a valid float"),
    ({"taken": "someday"}, "not a valid date"),
    ({"particle": None}, "not a valid string"),
    ({"particle": {"=": {"nested": 1}}}, "not a valid string"),
    ({"zenith": {"<": [1, 2]}}, "Illegal query: list of values for comparison operation"),
    ({"zenith": {"~": 1}}, "unknown operator '~'"),
    ({"zenith": {}}, "no operator"),
    ({"zenith": []}, "empty list"),
])
def test_bad_queries_are_refused(query: dict[str, Any], message: str) -> None:
    with pytest.raises(QueryError, match=message):
        normalize_query(query, FIELDS)


def test_an_unknown_field_is_named_with_the_known_ones() -> None:
    with pytest.raises(QueryError, match="Metadata field 'azimuth' not defined") as info:
        normalize_query({"azimuth": 1}, FIELDS)
    assert info.value.fields["field"] == "azimuth"
    assert {"zenith", "energy", "Size", "SE"} <= set(info.value.fields["known"])
    assert isinstance(info.value, DiracError)
    with pytest.raises(QueryError, match="mapping"):
        normalize_query([("zenith", 1)], FIELDS)  # type: ignore[arg-type]


def test_standard_file_keys_are_fields_with_their_types() -> None:
    assert set(STANDARD_FILE_KEYS) >= {"Size", "User", "Group", "Status", "GUID", "Checksum", "CreationDate",
                                       "ModificationDate", "Name", "SE"}
    terms = normalize_query({"Size": {">": "100"}, "Owner": "alice", "FileName": "f1", "CheckSum": "ab"}, {})
    assert terms == (Term("Size", Op.GT, 100), Term("User", Op.EQ, "alice"), Term("Name", Op.EQ, "f1"),
                     Term("Checksum", Op.EQ, "ab"))
    assert all(t.is_standard for t in terms)
    with pytest.raises(QueryError, match="not a valid int"):
        normalize_query({"Size": "big"}, {})


def test_a_declared_field_shadows_a_standard_key() -> None:
    (term,) = normalize_query({"Status": 3}, {"Status": "int"})
    assert term == Term("Status", Op.EQ, 3) and type(term.value) is int
    (term,) = normalize_query({"Status": "Bad*"}, {"Status": "string"})
    assert term.op is Op.EQ  # a declared directory field: no wildcard


def test_wildcards_only_on_file_string_fields() -> None:
    assert normalize_query({"tag": "run?-*"}, FIELDS, file_fields=FILE_FIELDS) == (
        Term("tag", Op.LIKE, "run?-*"),)
    assert normalize_query({"particle": "pi*"}, FIELDS, file_fields=FILE_FIELDS) == (
        Term("particle", Op.EQ, "pi*"),)  # a directory field
    assert normalize_query({"SE": "CERN-*", "Name": "f?"}, FIELDS)[0].op is Op.LIKE
    assert normalize_query({"tag": ["a*"]}, FIELDS, file_fields=FILE_FIELDS) == (Term("tag", Op.IN, ("a*",)),)
    assert normalize_query({"tag": {"!=": "a*"}}, FIELDS, file_fields=FILE_FIELDS)[0].op is Op.NE


def test_like_translations() -> None:
    assert like_to_sql("a*b?c") == "a%b_c"
    assert like_to_sql("50%_x\\") == "50\\%\\_x\\\\"
    assert like_to_sql("a%", escape="!") == "a!%"
    regex = like_to_regex("run?.*")
    assert regex.fullmatch("run1.root") and regex.fullmatch("runX.")
    assert not regex.fullmatch("run12root") and not regex.fullmatch("run1")


def test_field_types() -> None:
    spellings = ("INT", "Integer", "VARCHAR(128)", "double", "DATETIME", "string")
    assert [canonical_type(t) for t in spellings] == ["int", "int", "string", "float", "date", "string"]
    with pytest.raises(QueryError, match="unknown metadata type 'blob'"):
        canonical_type("blob")
    assert coerce("7", "int") == 7 and coerce(7.0, "int") == 7 and coerce(3, "string") == "3"
    with pytest.raises(QueryError):
        coerce(10**400, "float")


# --- the client-side matcher: every example of the reference -------------------

@pytest.mark.parametrize(("query", "metadata", "expected"), [
    ({"zenith": {"<=": 20}}, {"zenith": 20}, True),
    ({"zenith": {"<=": 20}}, {"zenith": 40}, False),
    ({"zenith": {">": 20}}, {"zenith": 20}, False),
    ({"zenith": "Missing"}, {}, True),
    ({"zenith": "Any"}, {}, False),
    ({"zenith": 20}, {}, False),
    ({"zenith": 20}, {"energy": 1.0}, False),
])
def test_reference_matcher_examples(query: dict[str, Any], metadata: dict[str, Any], expected: bool) -> None:
    assert matches(query, metadata, FIELDS) is expected


def test_an_uncastable_value_is_an_error() -> None:
    with pytest.raises(QueryError, match="'abc' of metadata zenith"):
        matches({"zenith": 5}, {"zenith": "abc"}, FIELDS)
    with pytest.raises(QueryError, match="not defined"):
        matches({"azimuth": 5}, {"azimuth": 5}, FIELDS)


@pytest.mark.parametrize(("query", "expected"), [
    ({"zenith": 20}, True), ({"zenith": "20"}, True), ({"zenith": {"!=": 20}}, False),
    ({"zenith": [10, 20]}, True), ({"zenith": {"nin": [10, 20]}}, False), ({"zenith": {"nin": [10]}}, True),
    ({"zenith": {">=": 20, "<": 21}}, True), ({"zenith": {">=": 20, "<": 20}}, False),
    ({"zenith": {"<": 30}, "energy": {">": 1}}, True), ({"zenith": 20, "energy": {">": 2}}, False),
    ({"zenith": "Any"}, True), ({"zenith": "Missing"}, False),
    ({"particle": "pi"}, True), ({"particle": "p*"}, False),
    ({"tag": "ru?-*"}, True), ({"tag": "run"}, False),
    ({"taken": {">": "2024-01-01"}}, True), ({"taken": {"<": "2024-01-01T00:00:00+00:00"}}, False),
])
def test_matcher_operators(query: dict[str, Any], expected: bool) -> None:
    metadata = {"zenith": 20, "energy": "1.5", "particle": "pi", "tag": "run-7", "taken": "2024-06-01"}
    assert matches(query, metadata, FIELDS, file_fields=FILE_FIELDS) is expected


@pytest.mark.parametrize(("query", "expected"), [
    ({"SE": "CERN-DST"}, True), ({"SE": "RAL-DST"}, False), ({"SE": ["RAL", "IN2P3-DST"]}, True),
    ({"SE": {"!=": "CERN-DST"}}, False), ({"SE": {"!=": "RAL"}}, True),
    ({"SE": {"nin": ["RAL", "PIC"]}}, True),
    ({"SE": {"nin": ["RAL", "IN2P3-DST"]}}, False), ({"SE": "*-DST"}, True), ({"SE": "RAL*"}, False),
    ({"SE": "Any"}, True), ({"SE": "Missing"}, False),
])
def test_multi_valued_se(query: dict[str, Any], expected: bool) -> None:
    metadata = {"SE": frozenset({"CERN-DST", "IN2P3-DST"})}
    assert matches(query, metadata, FIELDS) is expected


def test_no_replica_is_missing_and_aliases_are_read_in_metadata() -> None:
    assert matches({"SE": "Missing"}, {"SE": frozenset()}, FIELDS)
    assert not matches({"SE": "Any"}, {"SE": set()}, FIELDS)
    assert matches({"User": "alice"}, {"Owner": "alice"}, {})
    assert matches((Term("zenith", Op.GT, 3),), {"zenith": 4}, FIELDS)
    assert matches({}, {}, FIELDS)

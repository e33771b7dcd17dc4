from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dirac_core.errors import JDLError
from dirac_core.jdl import Bare, ClassAd, Value, dump, parse

DIRAC_STYLE = """[
    Executable = "dirac-jobexec";   // the Job API always runs this
    Arguments = "jobDescription.xml -o LogLevel=INFO; echo done";
    JobName = Name;
    CPUTime = 86400;
    Priority = 1;
    OutputSandbox = { Script1_CodeOutput.log, std.err, std.out };
    InputData = { "LFN:/lhcb/data/a.dst", "LFN:/lhcb/data/b.dst" };
    /* nested requirements,
       as the server writes them */
    JobRequirements = [ CPUTime = 100; Sites = { "LCG.CERN.ch", "LCG.PIC.es" } ];
    WholeNode = True;
]"""


def test_dirac_style_description() -> None:
    ad = parse(DIRAC_STYLE)
    assert list(ad) == ["Executable", "Arguments", "JobName", "CPUTime", "Priority", "OutputSandbox",
                        "InputData", "JobRequirements", "WholeNode"]
    assert ad["Arguments"] == "jobDescription.xml -o LogLevel=INFO; echo done"  # ';' in quotes is data
    assert ad["JobName"] == Bare("Name")
    assert ad["CPUTime"] == 86400
    assert ad["OutputSandbox"] == [Bare("Script1_CodeOutput.log"), Bare("std.err"), Bare("std.out")]
    assert ad["JobRequirements"] == {"CPUTime": 100, "Sites": ["LCG.CERN.ch", "LCG.PIC.es"]}
    assert ad["WholeNode"] is True


def test_spaces_in_quoted_list_items_are_kept() -> None:
    # DIRAC's ClassAd client removes them ({"a b","c"} -> ['ab','c']); we do not
    assert parse('[ Tags = {"a b", "c"} ]')["Tags"] == ["a b", "c"]


def test_brackets_optional_and_escapes() -> None:
    ad = parse('Executable = "say \\"hi\\"\\n";\nPriority = 2')
    assert ad == {"Executable": 'say "hi"\n', "Priority": 2}


def test_numbers() -> None:
    ad = parse("[ A = 3; B = -2.5; C = 1e3; D = 1.2.3; E = 007 ]")
    assert ad == {"A": 3, "B": -2.5, "C": 1000.0, "D": Bare("1.2.3"), "E": 7}


def test_round_trip_of_dirac_style() -> None:
    ad = parse(DIRAC_STYLE)
    assert parse(dump(ad)) == ad


@pytest.mark.parametrize(("text", "line", "column", "message"), [
    ('[\n  Executable = "x ;\n]', 2, 16, "not closed"),
    ("[ A = 1 B = 2 ]", 1, 9, "expected ';'"),
    ("[ A = {1, 2 ]", 1, 13, "expected ',' or '}'"),
    ("[ = 3 ]", 1, 3, "attribute name"),
    ("[\nA = 1;\nA = 2 ]", 3, 1, "given twice"),
    ("[]", 1, 1, "no attributes"),
    ("[ A = 1; ] extra", 1, 12, "end of text"),
    ("[ A = ]", 1, 7, "expected a value"),
    ('[ A = "bad \\q escape" ]', 1, 12, "unknown escape"),
    ("[ A = 1;", 1, 9, "expected ']'"),
])
def test_errors_carry_line_and_column(text: str, line: int, column: int, message: str) -> None:
    with pytest.raises(JDLError, match=message) as info:
        parse(text)
    assert (info.value.line, info.value.column) == (line, column)  # type: ignore[attr-defined]
    assert f"(line {line}, column {column})" in str(info.value)  # the message locates it too


def test_dump_refuses_what_jdl_cannot_hold() -> None:
    with pytest.raises(JDLError):
        dump({"bad name": 1})
    with pytest.raises(JDLError):
        dump({"X": float("nan")})


names = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_]{0,8}\Z")
scalars: st.SearchStrategy[Value] = (
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
    | st.integers(-10**12, 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
    | st.from_regex(r"\A[A-Za-z][A-Za-z0-9_.]{0,8}\Z").filter(lambda w: w.lower() not in ("true", "false"))
    .map(Bare)
)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(names, inner, min_size=1, max_size=3), max_leaves=12)


@given(st.dictionaries(names, values, min_size=1, max_size=6))
def test_dump_parse_round_trip(ad: ClassAd) -> None:
    assert parse(dump(ad)) == ad


@given(st.text(max_size=60))
def test_parser_raises_only_jdl_errors(text: str) -> None:
    # any other exception (IndexError, ValueError, ...) fails the test
    with contextlib.suppress(JDLError):
        parse(text)

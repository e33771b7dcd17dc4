"""The flat fast path gives exactly what the careful parser gives, or steps aside."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from dirac_core.errors import JDLError
from dirac_core.jdl import Bare, ClassAd, Value, dump, parse
from dirac_core.jdl.flat import parse_flat
from dirac_core.jdl.syntax import _Parser

MACHINE_WRITTEN = """[
    Executable = "dirac-jobexec";
    Arguments = "jobDescription.xml -o LogLevel=INFO; echo done";
    JobName = Name;
    JobType = User;
    CPUTime = 86400;
    Weight = -1.5e3;
    WholeNode = TRUE;
    Site = { "LCG.CERN.cern", "LCG.PIC.es" };
    OutputSandbox = { Script1_CodeOutput.log, std.err, std.out };
    Mixed = { "a", b, 3, "" };
    Empty = {};
    Trailing = { "x", };
    Tags = "GPU, 8Processors"
]"""


def careful(text: str) -> ClassAd | None:
    try:
        return _Parser(text).document() or None
    except JDLError:
        return None


def test_machine_written_text_takes_the_fast_path() -> None:
    fast = parse_flat(MACHINE_WRITTEN)
    assert fast is not None
    assert fast == careful(MACHINE_WRITTEN)
    assert fast["Mixed"] == ["a", Bare("b"), 3, ""]
    assert (fast["Weight"], fast["WholeNode"], fast["Empty"], fast["Trailing"]) == (-1500.0, True, [], ["x"])
    assert list(fast) == list(careful(MACHINE_WRITTEN) or {})  # the written order


def test_same_shape_different_strings() -> None:
    first = parse_flat('[ A = "one"; B = { "x", "y" }; C = { u, v }; D = 4 ]')
    second = parse_flat('[ A = "two"; B = { "p", "q" }; C = { u, v }; D = 4 ]')
    assert first == {"A": "one", "B": ["x", "y"], "C": [Bare("u"), Bare("v")], "D": 4}
    assert second == {"A": "two", "B": ["p", "q"], "C": [Bare("u"), Bare("v")], "D": 4}
    assert first is not None and second is not None
    first["C"].append(Bare("w"))  # type: ignore[union-attr]  # lists are never shared between results
    assert second["C"] == [Bare("u"), Bare("v")]
    assert parse_flat('[ A = "one"; B = { "x", "y" }; C = { u, v }; D = 4 ]') == {
        "A": "one", "B": ["x", "y"], "C": [Bare("u"), Bare("v")], "D": 4}


def test_a_long_description_is_read_without_being_remembered() -> None:
    files = [f"LFN:/vo/data/file_{i:05d}.root" for i in range(5000)]
    text = '[ Executable = "x"; InputData = { ' + ", ".join(f'"{f}"' for f in files) + " }; N = 3 ]"
    assert parse_flat(text) == {"Executable": "x", "InputData": files, "N": 3}


def test_other_texts_step_aside() -> None:
    for text in ['[ A = "x\\"y" ]', "[ A = 1; // note\n ]", "[ A = 1 # note\n ]", "[ A = /* x */ 1 ]",
                 "[ A = [ B = 1 ] ]", "[ A = { { 1 } } ]", "[ A = 1; A = 2 ]", "[ A = 5% ]", '[ A = "x\ny" ]',
                 '[ A = "x ]', "[]", "[ A = 1; ; ]", "[ A = 1 B = 2 ]", "[ A = ]"]:
        assert parse_flat(text) is None, text


FRAGMENTS = ["[", "]", "{", "}", "=", ";", ",", " ", "\n", "\t", "\x0b", "A", "B.x", "1a", '"', '""', '"a b"',
             '"x;y"', '"[{"', "\\", '\\"', "5", "-3", ".5", "1e3", "1.2.3", "5%", "true", "FALSE", "word",
             "LFN:/vo/x", "#c\n", "//c\n", "/*c*/", "/", "*", "%s"]


@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join))
def test_fragment_soup(text: str) -> None:
    fast = parse_flat(text)
    assert fast is None or fast == careful(text)


blank = st.sampled_from(["", " ", "  ", "\n", "\t", "\r\n"])
tokens = st.sampled_from(['"a"', '""', '"x y;z"', '"{[,]}"', '"%s"', "5", "-3", "+.5", "1e3", "007", "1.2.3",
                          "5%", "10:00", "true", "False", "word", "std.out", "LFN:/vo/a", "a#b", "x/y"])
junk = st.sampled_from([";", ",", "=", "{", "}", "[", "]", '"', "#", "//", "/*", "*/", "\\",
                        "\x0b", "\xa0", "\n"])


@st.composite
def near_flat(draw: st.DrawFn) -> str:
    """Flat descriptions in many layouts, with now and then one character of junk."""
    parts = []
    attributes = draw(st.lists(st.sampled_from(["A", "B", "B.x", "_c", "D9", "e.f"]), max_size=5,
                               unique=True))
    if attributes and draw(st.integers(0, 9)) == 0:
        attributes.append(attributes[0])  # a duplicate
    for name in attributes:
        if draw(st.booleans()):
            items = draw(st.lists(tokens, max_size=4))
            ending = draw(st.sampled_from(["", ","]))
            value = "{" + draw(blank) + ("," + draw(blank)).join(items) + ending + "}"
        else:
            value = draw(tokens)
        spoilt = draw(junk) if draw(st.integers(0, 7)) == 0 else ""
        parts.append(draw(blank) + name + draw(blank) + "=" + draw(blank) + value + draw(blank) + spoilt)
    body = ";".join(parts) + draw(st.sampled_from(["", ";", "; "]))
    return "[" + body + "]" if draw(st.booleans()) else body


@given(near_flat())
def test_near_flat_texts(text: str) -> None:
    fast = parse_flat(text)
    assert fast is None or fast == careful(text)


names = st.from_regex(r"\A[A-Za-z_][A-Za-z0-9_.]{0,8}\Z")
flat_scalars: st.SearchStrategy[Value] = (
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)
    | st.integers(-10**12, 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
    | st.from_regex(r"\A[A-Za-z][A-Za-z0-9_.]{0,8}\Z").filter(lambda w: w.lower() not in ("true", "false"))
    .map(Bare)
)
flat_values = flat_scalars | st.lists(flat_scalars, max_size=4)
layouts = st.sampled_from([("\n    ", " "), ("\n    ", ""), (";\n", ";"), (" = ", "="), (", ", ",")])


@given(st.dictionaries(names, flat_values, min_size=1, max_size=8), layouts)
def test_written_ads_read_back_the_same_on_both_paths(ad: ClassAd, layout: tuple[str, str]) -> None:
    written = dump(ad)
    assert parse(written) == ad
    text = written.replace(*layout)  # may change strings too: only the two paths are compared
    fast = parse_flat(text)
    assert fast is None or fast == careful(text)

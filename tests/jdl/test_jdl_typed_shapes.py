"""``loads`` converts what a shape fixes once per shape: the same descriptions and the same errors
as ``from_classad(parse(text))``, whatever the texts of one shape hold."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dirac_core.errors import JDLError
from dirac_core.jdl import from_classad, loads, parse
from dirac_core.jdl.flat import parse_planned

SHAPE = """[
    Executable = "{exe}";
    JobName = "{name}";
    CPUTime = {cpu};
    Priority = 3;
    JobType = MCSimulation;
    OutputSandbox = {{ std.err, std.out }};
    InputData = {{ "{lfn}" }};
    Site = {{ "LCG.CERN.cern", "{site}" }};
    Tags = "{tags}";
    MyOwnThing = {{ a, b }};
    Note = "{name}";
    Mixed = {{ "{exe}", w, 3 }};
    OutputData = {{ "{name}", out.log }};
    Owner = "mallory";
    {processors};
]"""


def _long_way(text: str) -> object:
    try:
        return from_classad(parse(text))
    except JDLError as exc:
        return ("error", str(exc), exc.problems)


def _short_way(text: str) -> object:
    try:
        return loads(text)
    except JDLError as exc:
        return ("error", str(exc), exc.problems)


texts = st.builds(
    SHAPE.format,
    exe=st.sampled_from(["run.sh", "", "  x  "]),
    name=st.text(alphabet="abc ,", max_size=6),
    cpu=st.sampled_from([3600, 50, 86400]),
    lfn=st.sampled_from(["/vo/f", "LFN:/vo/f", "vo//f", "relative"]),
    site=st.sampled_from(["ANY", "LCG.PIC.es", ""]),
    tags=st.sampled_from(["GPU, 8Processors", "", "a,,b"]),
    processors=st.sampled_from(["NumberOfProcessors = 4", "NumberOfProcessors = 0",
                                "MinNumberOfProcessors = 2; MaxNumberOfProcessors = -1",
                                "MinNumberOfProcessors = 4; MaxNumberOfProcessors = 2",
                                'NumberOfProcessors = "8"', "WholeNode = yes"]),
)


@given(st.lists(texts, min_size=1, max_size=6))
def test_the_shortcut_gives_what_the_long_way_gives(batch: list[str]) -> None:
    for text in batch:  # one shape: the second text on reuses what the first worked out
        assert _short_way(text) == _long_way(text)


def test_a_shape_with_a_bad_fixed_value_reports_like_the_long_way() -> None:
    text = '[ Executable = "x"; CPUTime = 5; Priority = 99; InputData = { "/vo/a" } ]'
    assert parse_planned(text) is not None
    for _ in range(3):  # the first text of a shape goes the long way; the next ones may not
        with pytest.raises(JDLError) as info:
            loads(text)
        assert [name for name, _ in info.value.problems] == ["CPUTime", "Priority"]


def test_two_spellings_of_a_field_keep_the_written_order() -> None:
    text = '[ Executable = "x"; Tag = "a"; Tags = { b, c } ]'
    assert loads(text).tags == from_classad(parse(text)).tags == frozenset({"b", "c"})


def test_the_fixed_values_are_shared_but_lists_of_extras_are_not() -> None:
    text = '[ Executable = "x"; OutputSandbox = { a, b }; Mine = { u, v } ]'
    first, second, third = loads(text), loads(text), loads(text)
    assert first.output_sandbox == ("a", "b") and first == second == third
    assert second.extra["Mine"] is not third.extra["Mine"]

"""``loads``/``dumps`` and the text helpers of the syntax module."""

from __future__ import annotations

import pytest

from dirac_core.errors import JDLError
from dirac_core.jdl import Bare, Job, JobDescription, dump, dumps, expand, loads, parse
from dirac_core.jdl.syntax import dump_value, read_scalar

JDL = """[
    Executable = "run.sh";
    Arguments = "--events 10";
    InputData = { "/vo/data/a" };
    Site = { "LCG.CERN.ch", "ANY" };
    CPUTime = 3600;
    NumberOfProcessors = 4;
    Custom = { 1, two };
]"""


def test_loads_is_parse_then_validate() -> None:
    desc = loads(JDL)
    assert desc == JobDescription.from_jdl(JDL)
    assert (desc.executable, desc.input_data, desc.sites, desc.cpu_time) == (
        "run.sh", ("LFN:/vo/data/a",), ("LCG.CERN.ch",), 3600)
    assert (desc.min_processors, desc.max_processors) == (4, 4)
    assert desc.extra == {"Custom": [1, Bare("two")]}


def test_dumps_and_loads_round_trip() -> None:
    desc = loads(JDL)
    assert loads(dumps(desc)) == desc
    assert desc.to_jdl() == dumps(desc)
    assert JobDescription.from_jdl(desc.to_jdl()) == desc


def test_dumps_takes_a_classad_or_a_builder() -> None:
    ad = parse(JDL)
    assert dumps(ad) == dump(ad)
    job = Job("run.sh").cpu_time(3600).sites("LCG.CERN.ch")
    assert dumps(job) == job.to_jdl()
    assert loads(dumps(job)) == job.description()
    with pytest.raises(TypeError, match="not list"):
        dumps([1, 2])  # type: ignore[arg-type]


def test_loads_reports_syntax_and_validation_errors() -> None:
    with pytest.raises(JDLError) as info:
        loads('[\n  Executable = "x"\n  CPUTime = 100;\n]')
    assert (info.value.line, info.value.column) == (3, 3)  # type: ignore[attr-defined]
    with pytest.raises(JDLError) as info:
        loads('[ Executable = "x"; CPUTime = 5 ]')
    assert [name for name, _ in info.value.problems] == ["CPUTime"]  # type: ignore[attr-defined]


def test_a_parametric_description_reads_as_one_job_until_expanded() -> None:
    text = '[ Executable = "run.sh"; Arguments = "-n %n -f %s"; Parameters = { "a", "b" } ]'
    desc = loads(text)
    assert desc.arguments == "-n %n -f %s"
    assert desc.extra == {"Parameters": ["a", "b"]}
    jobs = [loads(dumps(ad)) for ad in expand(parse(text), limit=10)]
    assert [j.arguments for j in jobs] == ["-n 0 -f a", "-n 1 -f b"]
    assert [j.extra for j in jobs] == [{"Parameter": "a", "ParameterNumber": 0},
                                      {"Parameter": "b", "ParameterNumber": 1}]


@pytest.mark.parametrize(("text", "value"), [
    ("07", 7), ("-2.5", -2.5), ("1e3", 1000.0), ("TRUE", True), ("false", False),
    ("std.out", Bare("std.out")), ("5%", "5%"), ("a b", "a b"), ('"q"', '"q"'), ("#c", "#c"), ("", ""),
    ("x;y", "x;y"),
])
def test_read_scalar(text: str, value: object) -> None:
    assert read_scalar(text) == value
    assert type(read_scalar(text)) is type(value)


def test_dump_value() -> None:
    written = dump_value(["a", Bare("b"), 1, 2.5, True, {"X": 1}])
    assert written == '{ "a", b, 1, 2.5, true, [\n        X = 1;\n    ] }'
    assert dump_value('say "hi"\n') == '"say \\"hi\\"\\n"'
    with pytest.raises(JDLError):
        dump_value(float("inf"))


def test_dump_refuses_a_name_with_a_newline() -> None:
    with pytest.raises(JDLError, match="invalid attribute name"):
        dump({"Good": 1, "Bad\n": 2})


def test_lists_of_strings_are_escaped_when_needed() -> None:
    ad = {"L": ["plain", 'with "quote"', "tab\there", "back\\slash"], "M": ["a", Bare("b")]}
    text = dump(ad)
    assert 'L = { "plain", "with \\"quote\\"", "tab\\there", "back\\\\slash" };' in text
    assert parse(text) == ad

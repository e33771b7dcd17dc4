from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dirac_core.errors import JDLError
from dirac_core.jdl import (
    Bare,
    ClassAd,
    Value,
    dump,
    expand,
    from_classad,
    parameter_count,
    parse,
    substitute_job_id,
)


def jobs(text: str, limit: int = 1000) -> list[ClassAd]:
    return expand(parse(text), limit=limit)


# -- counting -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "count"), [
    ('[ Executable = "x" ]', None),
    ('[ Executable = "x"; ParameterStart = 3 ]', None),  # only Parameters* attributes count
    ('[ Parameters = { "a", "b", "c" } ]', 3),
    ("[ Parameters = 5 ]", 5),
    ('[ Parameters = "5" ]', 5),
    ("[ Parameters = 4; Parameters.x = { 1, 2, 3, 4 }; ParameterStep = 2 ]", 4),
    ("[ Parameters.x = { 1, 2 } ]", 2),
])
def test_parameter_count(text: str, count: int | None) -> None:
    assert parameter_count(parse(text)) == count


def test_different_lengths_are_refused() -> None:
    with pytest.raises(JDLError, match="different lengths of parameter vectors") as info:
        parameter_count(parse("[ Parameters = 3; Parameters.x = { 1, 2 } ]"))
    assert info.value.attribute == "Parameters.x"  # type: ignore[attr-defined]


@pytest.mark.parametrize("text", ["[ Parameters = 0 ]", "[ Parameters = -2 ]", "[ Parameters = {} ]"])
def test_no_jobs_is_refused(text: str) -> None:
    with pytest.raises(JDLError, match="illegal number of job parameters"):
        parameter_count(parse(text))


@pytest.mark.parametrize("text", ["[ Parameters = 3.5 ]", '[ Parameters = "many" ]', "[ Parameters = true ]"])
def test_a_count_must_be_a_whole_number(text: str) -> None:
    with pytest.raises(JDLError, match="list or a whole number"):
        parameter_count(parse(text))


# -- sequences ------------------------------------------------------------------------------------

def test_not_parametric_is_the_ad_itself() -> None:
    ad = parse('[ Executable = "x"; Arguments = "%s %n %j" ]')
    [only] = expand(ad, limit=1)
    assert only is ad


def test_explicit_list() -> None:
    result = jobs('[ Executable = "run.sh"; Arguments = "-f %s"; Parameters = { "a.txt", "b.txt", 7 } ]')
    assert [j["Arguments"] for j in result] == ["-f a.txt", "-f b.txt", "-f 7"]
    assert [j["Parameter"] for j in result] == ["a.txt", "b.txt", 7]
    assert [j["ParameterNumber"] for j in result] == [0, 1, 2]
    assert list(result[0]) == ["Executable", "Arguments", "Parameter", "ParameterNumber"]


@pytest.mark.parametrize(("controls", "values"), [
    ("Parameters = 4", [1, 1, 1, 1]),
    ("Parameters = 4; ParameterStart = 2; ParameterStep = 3", [2, 5, 8, 11]),
    ("Parameters = 4; ParameterStart = 2; ParameterStep = 3; ParameterFactor = 2", [2, 7, 17, 37]),
    ("Parameters = 4; ParameterStart = 0.5; ParameterStep = 0.25", [0.5, 0.75, 1.0, 1.25]),
    ("Parameters = 3; ParameterStart = 1; ParameterStep = 0.5", [1.0, 1.5, 2.0]),
    ("Parameters = 3; ParameterStart = 3; ParameterFactor = 0.5", [3.0, 1.5, 0.75]),
    ('Parameters = 3; ParameterStart = "10"; ParameterStep = "-1"', [10, 9, 8]),
])
def test_generated_sequences_keep_the_type_of_their_inputs(controls: str, values: list[Value]) -> None:
    result = jobs(f'[ Executable = "x"; {controls} ]')
    got = [j["Parameter"] for j in result]
    assert got == values
    assert [type(v) for v in got] == [type(v) for v in values]  # 1 and 1.0 compare equal


def test_named_sequences() -> None:
    result = jobs("""[
        Executable = "sim";
        Arguments = "--run %(run)s --seed %(seed)s --file %(file)s";
        Parameters.run = { 101, 102, 103 };
        Parameters.file = { "a.root", "b.root", "c.root" };
        ParameterStart.seed = 7; ParameterStep.seed = 10;
    ]""")
    assert [j["Arguments"] for j in result] == ["--run 101 --seed 7 --file a.root",
                                                "--run 102 --seed 17 --file b.root",
                                                "--run 103 --seed 27 --file c.root"]
    assert result[2] == {"Executable": "sim", "Arguments": "--run 103 --seed 27 --file c.root",
                         "Parameter.run": 103, "Parameter.file": "c.root", "Parameter.seed": 27,
                         "ParameterNumber": 2}


def test_a_count_with_named_sequences_still_makes_the_default_one() -> None:
    # DIRAC's behaviour: Parameters = 3 creates the default sequence [1, 1, 1]
    result = jobs('[ Executable = "x"; Arguments = "%s-%(x)s"; Parameters = 3; Parameters.x = { a, b, c } ]')
    assert [j["Arguments"] for j in result] == ["1-a", "1-b", "1-c"]
    assert [j["Parameter"] for j in result] == [1, 1, 1]
    assert [j["Parameter.x"] for j in result] == [Bare("a"), Bare("b"), Bare("c")]


# -- substitution ------------------------------------------------------------------------------------

@pytest.mark.parametrize(("count", "first", "last"), [(1, "0", "0"), (10, "0", "9"), (12, "00", "11"),
                                                      (101, "000", "100")])
def test_job_index_is_zero_padded(count: int, first: str, last: str) -> None:
    result = jobs(f'[ Executable = "x"; JobName = "job_%n"; Parameters = {count} ]')
    names = [j["JobName"] for j in result]
    assert (names[0], names[-1]) == (f"job_{first}", f"job_{last}")
    assert len(set(names)) == count


def test_twelve_jobs_are_numbered_00_to_11() -> None:
    result = jobs('[ Executable = "x"; StdOutput = "out_%n.log"; Parameters = 12 ]')
    assert [j["StdOutput"] for j in result] == [f"out_{i:02d}.log" for i in range(12)]


def test_a_percent_that_is_no_placeholder_stays() -> None:
    result = jobs('[ Executable = "x"; Arguments = "50% %d %(x)d %(x %% %5s %s"; Parameters = { v } ]')
    assert result[0]["Arguments"] == "50% %d %(x)d %(x %% %5s v"


def test_placeholders_in_lists_bare_words_and_nested_ads() -> None:
    result = jobs("""[
        Executable = "x";
        JobName = job_%n;
        Seed = %n;
        CPUTime = %(cpu)s;
        InputData = { "LFN:/vo/data/%(run)s.raw", %(extra)s };
        JobRequirements = [ Sites = { "%s" }; Note = "run %(run)s" ];
        Parameters = { LCG.CERN.cern, LCG.PIC.es };
        Parameters.run = { 7, 8 };
        Parameters.cpu = { 3600, 7200 };
        Parameters.extra = { { "LFN:/vo/a", "LFN:/vo/b" }, "LFN:/vo/c" };
    ]""")
    first, second = result
    assert first["JobName"] == Bare("job_0") and first["Seed"] == 0
    assert (first["CPUTime"], second["CPUTime"]) == (3600, 7200)  # typed, not "3600"
    assert first["InputData"] == ["LFN:/vo/data/7.raw", "LFN:/vo/a", "LFN:/vo/b"]  # a list value is spliced
    assert second["InputData"] == ["LFN:/vo/data/8.raw", "LFN:/vo/c"]
    assert second["JobRequirements"] == {"Sites": ["LCG.PIC.es"], "Note": "run 8"}
    assert from_classad(second).cpu_time == 7200


def test_a_bare_word_that_stops_being_one_word_becomes_a_string() -> None:
    result = jobs('[ Executable = "x"; Label = tag_%s; Parameters = { "a b", "c" } ]')
    assert [j["Label"] for j in result] == ["tag_a b", Bare("tag_c")]


def test_values_are_inserted_as_written() -> None:
    [job] = jobs('[ Executable = "x"; Arguments = "%s"; Parameters = { "%n-%(x)s" } ]')
    assert job["Arguments"] == "%n-%(x)s"


def test_unknown_sequence_is_named() -> None:
    with pytest.raises(JDLError, match=r"%\(y\)s") as info:
        jobs('[ Executable = "x"; Arguments = "%(x)s %(y)s"; Parameters.x = { 1, 2 } ]')
    assert info.value.attribute == "Arguments"  # type: ignore[attr-defined]


def test_default_placeholder_without_default_sequence() -> None:
    with pytest.raises(JDLError, match="Arguments uses %s but the job has no default sequence"):
        jobs('[ Executable = "x"; Arguments = "%s"; Parameters.x = { 1, 2 } ]')


@pytest.mark.parametrize(("text", "message"), [
    ("[ ParametersX = 3 ]", "not a parametric attribute"),
    ("[ Parameters = 2; ParameterStepping = 1 ]", "not a parametric attribute"),
    ("[ Parameters. = { 1 } ]", "needs a name"),
    ('[ Parameters = 2; ParameterStart = "abc" ]', "must be a number"),
    ("[ Parameters = 2; ParameterStep = true ]", "must be a number"),
    ("[ Parameters = 100; ParameterStart = 1; ParameterFactor = 10 ]", "overflows"),
    ("[ Parameters = 3; ParameterStart = 1e300; ParameterFactor = 1e300 ]", "overflows"),
])
def test_malformed_controls(text: str, message: str) -> None:
    with pytest.raises(JDLError, match=message):
        jobs(text)


# -- limit -----------------------------------------------------------------------------------------

def test_more_jobs_than_the_limit_is_refused_before_anything_is_expanded() -> None:
    # a trillion jobs and an unknown placeholder: the count is checked first, so this returns at once
    # with the limit error, not the placeholder error, and without building any job
    ad = parse('[ Executable = "x"; Arguments = "%(nowhere)s"; Parameters = 1000000000000 ]')
    with pytest.raises(JDLError, match="1000000000000 jobs, more than the limit of 100") as info:
        expand(ad, limit=100)
    assert (info.value.count, info.value.limit) == (10**12, 100)  # type: ignore[attr-defined]


def test_the_limit_itself_is_allowed() -> None:
    assert len(jobs('[ Executable = "x"; Parameters = 20 ]', limit=20)) == 20


def test_ten_thousand_jobs() -> None:
    result = jobs('[ Executable = "x"; JobName = "j%n"; Arguments = "%s"; Parameters = 10000; '
                  "ParameterStart = 0; ParameterStep = 5 ]", limit=10000)
    assert len(result) == 10000
    assert (result[-1]["JobName"], result[-1]["Arguments"], result[-1]["ParameterNumber"]) == (
        "j9999", "49995", 9999)


# -- independence and the job ID ---------------------------------------------------------------------

def test_jobs_are_new_dicts_sharing_only_constant_values() -> None:
    ad = parse('[ Executable = "x"; Site = { "A", "B" }; Data = { "%s", "c" }; '
               "Parameters = { { 1 }, { 2 } } ]")
    before = copy.deepcopy(ad)
    first, second = expand(ad, limit=10)
    assert first is not ad and first is not second
    assert first["Site"] is ad["Site"] and second["Site"] is ad["Site"]  # no placeholder: shared, not copied
    assert first["Data"] is not second["Data"] and first["Data"] is not ad["Data"]  # substituted: new
    assert (first["Data"], second["Data"]) == (["{ 1 }", "c"], ["{ 2 }", "c"])
    first["Site"] = ["C"]  # replacing a value touches one job only
    assert second["Site"] == ["A", "B"]
    assert ad == before


def test_job_id_is_left_for_later() -> None:
    [job] = jobs('[ Executable = "x"; Arguments = "%j-%n"; Parameters = 1 ]')
    assert job["Arguments"] == "%j-0"
    with_id = substitute_job_id(job, 4242)
    assert with_id["Arguments"] == "4242-0"
    assert job["Arguments"] == "%j-0"  # the input is not modified


def test_substitute_job_id_everywhere() -> None:
    ad = parse('[ Executable = "x"; JobNumber = %j; Out = out_%j; Files = { "a_%j", b_%j }; '
               'Req = [ Note = "job %j" ]; Literal = "%d %J 100%"; Site = { "A" } ]')
    before = copy.deepcopy(ad)
    result = substitute_job_id(ad, 17)
    assert result == {
        "Executable": "x", "JobNumber": 17, "Out": Bare("out_17"), "Files": ["a_17", Bare("b_17")],
        "Req": {"Note": "job 17"}, "Literal": "%d %J 100%", "Site": ["A"]}
    assert ad == before and result is not ad
    assert result["Site"] is ad["Site"] and result["Files"] is not ad["Files"]


# -- properties ----------------------------------------------------------------------------------------

scalars: st.SearchStrategy[Value] = (
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=8)
    | st.integers(-10**6, 10**6)
    | st.floats(allow_nan=False, allow_infinity=False, width=32)
    | st.booleans()
    | st.from_regex(r"\A[A-Za-z][A-Za-z0-9_.]{0,6}\Z").filter(lambda w: w.lower() not in ("true", "false"))
    .map(Bare)
)
items = scalars | st.lists(scalars, max_size=3)
literals = st.sampled_from(["", "a", "50%", "%d", "%(x)d", "%", " ", "{", "%j", "-", "x y"])


@st.composite
def parametric_ads(draw: st.DrawFn) -> ClassAd:
    count = draw(st.integers(1, 12))
    ad: ClassAd = {"Executable": "run.sh"}
    keys = draw(st.lists(st.sampled_from(["", "x", "y", "a.b"]), min_size=1, max_size=3, unique=True))
    for key in keys:
        suffix = f".{key}" if key else ""
        if draw(st.booleans()):
            ad["Parameters" + suffix] = draw(st.lists(items, min_size=count, max_size=count))
        else:
            if draw(st.booleans()):
                ad["Parameters" + suffix] = count
            numbers = st.integers(-50, 50) | st.floats(-50, 50, width=32)
            ad["ParameterStart" + suffix] = draw(numbers)
            if draw(st.booleans()):
                ad["ParameterStep" + suffix] = draw(numbers)
            if draw(st.booleans()):
                ad["ParameterFactor" + suffix] = draw(st.integers(-2, 2) | st.floats(-2, 2, width=32))
    if not any(name.startswith("Parameters") for name in ad):
        ad["Parameters"] = count
    holes = ["%n", *("%s" if not key else f"%({key})s" for key in keys)]
    pieces = st.lists(literals | st.sampled_from(holes), min_size=1, max_size=5).map("".join)
    ad["Arguments"] = draw(pieces)
    ad["Word"] = Bare(draw(st.sampled_from(holes)))
    ad["Label"] = Bare("job_" + draw(st.sampled_from(holes)))
    ad["Files"] = [draw(pieces), Bare(draw(st.sampled_from(holes))), 3]
    ad["Nested"] = {"Note": draw(pieces), "List": [Bare(draw(st.sampled_from(holes)))]}
    return ad


@given(parametric_ads())
def test_every_expanded_job_writes_and_reads_back(ad: ClassAd) -> None:
    before = copy.deepcopy(ad)
    count = parameter_count(ad)
    result = expand(ad, limit=100)
    assert count is not None and len(result) == count
    assert ad == before
    for n, job in enumerate(result):
        assert job["ParameterNumber"] == n
        assert not any(name.startswith(("Parameters", "ParameterSt", "ParameterF")) for name in job)
        assert parse(dump(job)) == job
        assert parse(dump(substitute_job_id(job, 123))) == substitute_job_id(job, 123)

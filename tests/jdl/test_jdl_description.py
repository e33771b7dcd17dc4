from __future__ import annotations

import pytest

from dirac_core.errors import JDLError
from dirac_core.jdl import Bare, dump, parse
from dirac_core.jdl.description import JobDescription, from_classad

FULL = """[
    Executable = "my_app.sh";
    Arguments = "--events 100; --seed 7";
    InputSandbox = { "my_app.sh", "LFN:/vo/user/config.json" };
    OutputSandbox = { std.out, std.err, "*.log" };
    InputData = { "/vo/data/run1/a.root", "LFN:/vo/data/run1/b.root" };
    OutputData = { "out.root" };
    OutputSE = "DISK-SE, TAPE-SE";
    OutputPath = "/analysis/run1";
    Site = { "ANY", "LCG.CERN.ch", "LCG.PIC.es" };
    BannedSites = "LCG.PIC.es";
    Platform = "x86_64-el9";
    Tags = { "GPU" };
    MinNumberOfProcessors = 2;
    MaxNumberOfProcessors = -1;
    WholeNode = yes;
    MaxRAM = 4;
    CPUTime = 3600;
    Priority = "5";
    JobType = User;
    JobGroup = "run1";
    JobName = "analysis";
    LogLevel = debug;
    Owner = "mallory";
    OwnerGroup = "admins";
    MyExperimentField = { 1, 2 };
]"""


def test_every_attribute_read() -> None:
    desc = from_classad(parse(FULL))
    assert desc.executable == "my_app.sh"
    assert desc.arguments == "--events 100; --seed 7"
    assert desc.input_data == ("LFN:/vo/data/run1/a.root", "LFN:/vo/data/run1/b.root")
    assert desc.output_se == ("DISK-SE", "TAPE-SE")  # a scalar string is a comma-separated list
    assert desc.output_path == "analysis/run1"
    assert desc.sites == ("LCG.CERN.ch", "LCG.PIC.es")  # ANY dropped
    assert desc.banned_sites == ("LCG.PIC.es",)
    assert (desc.min_processors, desc.max_processors, desc.whole_node) == (2, None, True)
    assert (desc.max_ram_gb, desc.cpu_time, desc.priority) == (4, 3600, 5)
    assert desc.log_level == "DEBUG"
    assert desc.extra == {"MyExperimentField": [1, 2]}  # unknown attributes kept


def test_identity_never_comes_from_the_jdl() -> None:
    ad = from_classad(parse(FULL)).to_classad()
    assert "Owner" not in ad and "OwnerGroup" not in ad


def test_round_trip_through_classad_and_text() -> None:
    desc = from_classad(parse(FULL))
    assert from_classad(parse(dump(desc.to_classad()))) == desc
    minimal = JobDescription(executable="echo")
    assert from_classad(minimal.to_classad()) == minimal


def test_exact_processor_count() -> None:
    desc = from_classad(parse('[ Executable = "x"; NumberOfProcessors = 8 ]'))
    assert (desc.min_processors, desc.max_processors) == (8, 8)


def test_every_problem_reported_at_once() -> None:
    bad = """[ CPUTime = 5; Priority = x; InputData = { "data/a", "LFN:/vo//b" };
              MinNumberOfProcessors = 4; MaxNumberOfProcessors = 2; WholeNode = maybe ]"""
    with pytest.raises(JDLError) as info:
        from_classad(parse(bad))
    problems = dict(info.value.problems)  # type: ignore[attr-defined]
    assert problems == {
        "CPUTime": "must be between 100 and 500000, got 5",
        "Priority": "expected an integer, got 'x'",
        "InputData": "'data/a' is not an LFN (LFN:/vo/path, no '//')",
        "WholeNode": "expected a boolean, got 'maybe'",
        "Executable": "is mandatory and must not be empty",
        "NumberOfProcessors": "MaxNumberOfProcessors 2 is less than MinNumberOfProcessors 4",
    }


@pytest.mark.parametrize(("jdl", "attribute"), [
    ('[ Executable = "x"; NumberOfProcessors = 2; MaxNumberOfProcessors = 4 ]', "NumberOfProcessors"),
    ('[ Executable = "x"; NumberOfProcessors = 2000 ]', "NumberOfProcessors"),
    ('[ Executable = "x"; Priority = 11 ]', "Priority"),
    ('[ Executable = ""; ]', "Executable"),
    ('[ Executable = { "a" } ]', "Executable"),
    ('[ Executable = "x"; CPUTime = true ]', "CPUTime"),
])
def test_bad_values(jdl: str, attribute: str) -> None:
    with pytest.raises(JDLError) as info:
        from_classad(parse(jdl))
    assert attribute in dict(info.value.problems)  # type: ignore[attr-defined]


def test_bare_words_are_strings() -> None:
    desc = from_classad({"Executable": Bare("run"), "JobType": Bare("User")})
    assert (desc.executable, desc.job_type) == ("run", "User")

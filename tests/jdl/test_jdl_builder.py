from __future__ import annotations

import pytest

from dirac_core.errors import JDLError
from dirac_core.jdl import parse
from dirac_core.jdl.builder import Job
from dirac_core.jdl.description import from_classad

JDL = """[
    Executable = "run.sh";
    Arguments = "--events 10";
    InputSandbox = { "run.sh", "conf.json" };
    OutputSandbox = { "*.log" };
    InputData = { "/vo/data/a" };
    OutputData = { "out.root" };
    OutputSE = { "DISK-SE", "TAPE-SE" };
    OutputPath = "ana";
    Site = { "LCG.CERN.ch" };
    BannedSites = { "LCG.PIC.es" };
    Platform = { "x86_64-el9" };
    Tags = { "GPU" };
    NumberOfProcessors = 4;
    MaxRAM = 8;
    CPUTime = 3600;
    Priority = 3;
    JobGroup = "g1";
    JobName = "my job";
    JobType = "User";
    ExecutionEnvironment = { "MODE=fast" };
    Custom = 7;
]"""


def build() -> Job:
    return (Job("run.sh", arguments="--events 10")
            .input_sandbox(["run.sh", "conf.json"]).output_sandbox("*.log")
            .input_data("/vo/data/a").output_data("out.root", se=["DISK-SE", "TAPE-SE"], path="ana")
            .sites("LCG.CERN.ch").banned_sites("LCG.PIC.es").platform("x86_64-el9").tags("GPU")
            .processors(4).ram(8).cpu_time(3600).priority(3).group("g1").name("my job").type("User")
            .environment(MODE="fast").set("Custom", 7))


def test_builder_and_jdl_give_the_same_description() -> None:
    assert build().description() == from_classad(parse(JDL))


def test_builder_jdl_text_round_trips() -> None:
    job = build()
    assert from_classad(parse(job.to_jdl())) == job.description()


def test_processor_ranges() -> None:
    desc = Job("x").processors(min=2).description()
    assert (desc.min_processors, desc.max_processors) == (2, None)
    desc = Job("x").processors(min=2, max=8, whole_node=True).description()
    assert (desc.min_processors, desc.max_processors, desc.whole_node) == (2, 8, True)
    with pytest.raises(JDLError, match="not both"):
        Job("x").processors(4, max=8).description()


def test_bad_values_raise_like_jdl() -> None:
    with pytest.raises(JDLError) as info:
        Job("x").cpu_time(10).priority(42).description()
    assert [name for name, _ in info.value.problems] == ["CPUTime", "Priority"]  # type: ignore[attr-defined]

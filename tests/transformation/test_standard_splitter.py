"""Standard: DIRAC's groupByReplicas, with DIRAC's test data and a model of its two passes."""

from __future__ import annotations

import pytest
import splitter_reference as reference
from hypothesis import given, settings
from hypothesis import strategies as st

from dirac_core.errors import InvalidTransformation
from dirac_core.plugins.splitters import SplitContext, TaskGroup
from dirac_core.transformation.splitters import Standard

# DIRAC's Test_Plugins.py data
DATA = {
    "/this/is/at.1": ["SE1"],
    "/this/is/at.2": ["SE2"],
    "/this/is/als/at.2": ["SE2"],
    "/this/is/at.12": ["SE1", "SE2"],
    "/this/is/also/at.12": ["SE1", "SE2"],
    "/this/is/at_123": ["SE1", "SE2", "SE3"],
    "/this/is/at_23": ["SE2", "SE3"],
    "/this/is/at_4": ["SE4"],
}


def pairs(tasks: list[TaskGroup]) -> list[tuple[str, list[str]]]:
    return [(",".join(task.target_ses), list(task.lfns)) for task in tasks]


def test_no_data_no_task() -> None:
    assert Standard({"GroupSize": 10}).split({}) == []
    assert Standard({"GroupSize": 1}).split({}, flush=True) == []


def test_fewer_files_than_group_size_wait() -> None:
    assert Standard({"GroupSize": 10}).split(DATA) == []


def test_flush_groups_by_replica_set_alphabetically() -> None:
    tasks = Standard({"GroupSize": 10}).split(DATA, flush=True)
    assert [(t, set(lfns)) for t, lfns in pairs(tasks)] == [
        ("SE1", {"/this/is/at.1"}),
        ("SE1,SE2", {"/this/is/also/at.12", "/this/is/at.12"}),
        ("SE1,SE2,SE3", {"/this/is/at_123"}),
        ("SE2", {"/this/is/als/at.2", "/this/is/at.2"}),
        ("SE2,SE3", {"/this/is/at_23"}),
        ("SE4", {"/this/is/at_4"}),
    ]
    assert tasks[1] == TaskGroup(("SE1", "SE2"), ("/this/is/at.12", "/this/is/also/at.12"))


@pytest.mark.parametrize("flush", [False, True])
def test_group_size_one_is_a_task_per_file(flush: bool) -> None:
    tasks = Standard({"GroupSize": 1}).split(DATA, flush=flush)
    assert sorted(pairs(tasks)) == sorted((",".join(ses), [lfn]) for lfn, ses in DATA.items())


def test_second_pass_regroups_leftovers_per_se() -> None:
    # pass 1 fills SE1,SE2 and SE2; the rest is regrouped per SE, input order, a file used once
    assert pairs(Standard({"GroupSize": 2}).split(DATA)) == [
        ("SE1,SE2", ["/this/is/at.12", "/this/is/also/at.12"]),
        ("SE2", ["/this/is/at.2", "/this/is/als/at.2"]),
        ("SE1", ["/this/is/at.1", "/this/is/at_123"]),
    ]


def test_second_pass_takes_disk_before_tape() -> None:
    files = {"/f1": ["A-TAPE", "Z-DISK"], "/f2": ["A-TAPE"], "/f3": ["Z-DISK"]}
    tape = SplitContext(tape_ses=frozenset({"A-TAPE"}))
    assert pairs(Standard({"GroupSize": 2}, tape).split(files)) == [("Z-DISK", ["/f1", "/f3"])]
    # without the tape flag the alphabetical first SE takes the shared file
    assert pairs(Standard({"GroupSize": 2}).split(files)) == [("A-TAPE", ["/f1", "/f2"])]


def test_first_pass_order_is_disk_first_when_every_file_is_at_one_se() -> None:
    files = {"/t1": ["A-TAPE"], "/t2": ["A-TAPE"], "/d1": ["Z-DISK"], "/d2": ["Z-DISK"]}
    tape = SplitContext(tape_ses=frozenset({"A-TAPE"}))
    assert [t for t, _ in pairs(Standard({"GroupSize": 2}, tape).split(files))] == ["Z-DISK", "A-TAPE"]
    files["/m"] = ["A-TAPE", "Z-DISK"]  # a multi-SE group: DIRAC sorts everything alphabetically
    assert [t for t, _ in pairs(Standard({"GroupSize": 1}, tape).split(files))] == [
        "A-TAPE", "A-TAPE", "A-TAPE,Z-DISK", "Z-DISK", "Z-DISK"]


def test_replica_lists_are_normalised() -> None:
    files = {"/a": ["SE2", "SE1", "SE1"], "/b": ("SE1", "SE2"), "/c": {"SE2", "SE1"}, "/none": []}
    tasks = Standard({"GroupSize": 3}).split(files)  # type: ignore[dict-item]
    assert tasks == [TaskGroup(("SE1", "SE2"), ("/a", "/b", "/c"))]


def test_replicas_given_as_a_string_are_refused() -> None:
    with pytest.raises(TypeError, match="list of SE names"):
        Standard({}).split({"/a": "SE1"})


def test_chunks_keep_input_order() -> None:
    files = {f"/f{i}": ["SE1"] for i in (5, 3, 9, 1, 7)}
    assert [t.lfns for t in Standard({"GroupSize": 2}).split(files, flush=True)] == [
        ("/f5", "/f3"), ("/f9", "/f1"), ("/f7",)]


@pytest.mark.parametrize("value", [10, "10", 10.0, "10.0", " 10 "])
def test_group_size_spellings(value: object) -> None:
    assert Standard({"GroupSize": value}).group_size == 10


def test_default_group_size_is_ten() -> None:
    assert Standard({}).group_size == 10 == Standard.defaults["GroupSize"]


@pytest.mark.parametrize("value", [0, -1, 2.5, "x", None, True, [10]])
def test_bad_group_size(value: object) -> None:
    with pytest.raises(InvalidTransformation, match="GroupSize") as info:
        Standard({"GroupSize": value})
    assert info.value.fields["parameter"] == "GroupSize" and info.value.fields["plugin"] == "Standard"


SES = ["A", "B", "C-TAPE", "D"]
replica_maps = st.dictionaries(st.integers(0, 60).map(lambda i: f"/lfn/{i:03d}"),
                               st.lists(st.sampled_from(SES), max_size=4), max_size=60)


@settings(max_examples=300, deadline=None)
@given(replicas=replica_maps, group_size=st.integers(1, 6), flush=st.booleans())
def test_same_tasks_as_the_model_of_dirac(replicas: dict[str, list[str]], group_size: int,
                                          flush: bool) -> None:
    context = SplitContext(tape_ses=frozenset({"C-TAPE"}))
    ours = Standard({"GroupSize": group_size}, context).split(replicas, flush=flush)
    assert pairs(ours) == reference.standard(replicas, group_size, flush, {"C-TAPE"})

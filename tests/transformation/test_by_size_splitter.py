"""BySize: DIRAC's groupBySize (GroupSize in GB, MaxFilesPerTask, files of size 0 never grouped)."""

from __future__ import annotations

import pytest
import splitter_reference as reference
from hypothesis import given, settings
from hypothesis import strategies as st

from dirac_core.errors import InvalidTransformation
from dirac_core.plugins.splitters import SplitContext, TaskGroup
from dirac_core.transformation.splitters import BySize

GB = 10**9


def pairs(tasks: list[TaskGroup]) -> list[tuple[str, list[str]]]:
    return [(",".join(task.target_ses), list(task.lfns)) for task in tasks]


def at(se: str, sizes: dict[str, int]) -> dict[str, list[str]]:
    return {lfn: [se] for lfn in sizes}


def test_task_made_when_the_total_exceeds_the_group_size() -> None:
    sizes = {"/a": GB // 2, "/b": 3 * GB // 10, "/c": 4 * GB // 10, "/d": 2 * GB}
    tasks = BySize({"GroupSize": 1}).split(at("SE1", sizes), sizes=sizes)
    # ascending size: b, c, a (1.2 GB > 1 GB) is a task; d (2 GB > 1 GB) is a task of its own
    assert pairs(tasks) == [("SE1", ["/b", "/c", "/a"]), ("SE1", ["/d"])]


def test_reaching_the_group_size_exactly_is_not_enough() -> None:
    sizes = {"/a": GB // 2, "/b": GB // 2}
    assert BySize({"GroupSize": 1}).split(at("SE1", sizes), sizes=sizes) == []
    assert pairs(BySize({"GroupSize": 1}).split(at("SE1", sizes), sizes=sizes, flush=True)) == [
        ("SE1", ["/a", "/b"])]


def test_max_files_per_task() -> None:
    sizes = {f"/f{i}": 1000 + i for i in range(5)}
    assert pairs(BySize({"MaxFilesPerTask": 2}).split(at("SE1", sizes), sizes=sizes)) == [
        ("SE1", ["/f0", "/f1"]), ("SE1", ["/f2", "/f3"])]
    assert pairs(BySize({"MaxFilesPerTask": 2}).split(at("SE1", sizes), sizes=sizes, flush=True))[-1] == (
        "SE1", ["/f4"])


def test_max_files_alias_and_default() -> None:
    assert BySize({"MaxFiles": 7}).max_files == 7
    assert BySize({"MaxFiles": 7, "MaxFilesPerTask": 3}).max_files == 3
    assert BySize({}).max_files == 100
    assert BySize({}).group_bytes == 1e9


def test_large_file_is_a_task_even_without_flush_and_the_rest_waits() -> None:
    sizes = {"/big": 5 * GB, "/small": GB // 10}
    assert pairs(BySize({"GroupSize": 1}).split(at("SE1", sizes), sizes=sizes)) == [("SE1", ["/big"])]
    assert pairs(BySize({"GroupSize": 1}).split(at("SE1", sizes), sizes=sizes, flush=True)) == [
        ("SE1", ["/big"]), ("SE1", ["/small"])]


def test_empty_and_unknown_files_are_never_grouped() -> None:
    sizes = {"/zero": 0, "/ok": 2 * GB}
    files = {"/zero": ["SE1"], "/ok": ["SE1"], "/unknown": ["SE1"]}
    assert pairs(BySize({"GroupSize": 1}).split(files, sizes=sizes, flush=True)) == [("SE1", ["/ok"])]
    assert BySize({}).split(files, sizes=None, flush=True) == []
    assert BySize({}).split(files, sizes={"/unknown": None}, flush=True) == []  # type: ignore[dict-item]
    odd = {"/ok": 2 * GB, "/zero": 0, "/unknown": "n/a"}  # an unreadable size is an unknown one
    assert pairs(BySize({}).split(files, sizes=odd, flush=True)) == [("SE1", ["/ok"])]  # type: ignore[arg-type]


def test_equal_sizes_keep_input_order() -> None:
    sizes = {"/c": 5, "/a": 5, "/b": 1}
    assert pairs(BySize({"GroupSize": 1}).split(at("SE1", sizes), sizes=sizes, flush=True)) == [
        ("SE1", ["/b", "/c", "/a"])]


def test_first_pass_is_alphabetical_even_for_single_ses() -> None:
    sizes = {"/t": 2 * GB, "/d": 2 * GB}
    files = {"/t": ["A-TAPE"], "/d": ["Z-DISK"]}
    context = SplitContext(tape_ses=frozenset({"A-TAPE"}))
    assert [t for t, _ in pairs(BySize({"GroupSize": 1}, context).split(files, sizes=sizes))] == [
        "A-TAPE", "Z-DISK"]


def test_second_pass_disk_first() -> None:
    sizes = dict.fromkeys(["/shared", "/tape", "/disk"], 6 * GB // 10)
    files = {"/shared": ["A-TAPE", "Z-DISK"], "/tape": ["A-TAPE"], "/disk": ["Z-DISK"]}
    context = SplitContext(tape_ses=frozenset({"A-TAPE"}))
    assert pairs(BySize({"GroupSize": 1}, context).split(files, sizes=sizes)) == [
        ("Z-DISK", ["/shared", "/disk"])]


def test_petabyte_groups_add_exactly() -> None:
    # running totals above 2**53 bytes: the cut adds whole numbers instead of floats
    sizes = {f"/f{i}": 10**15 + i for i in range(30)}
    files = at("SE1", sizes)
    ours = BySize({"GroupSize": 3_000_000.000001}).split(files, sizes=sizes, flush=True)
    assert pairs(ours) == reference.bysize(files, sizes, 3_000_000.000001, max_files=100, flush=True)
    assert [len(t.lfns) for t in ours] == [4, 4, 4, 4, 4, 4, 4, 2]


@pytest.mark.parametrize(("parameters", "name"), [
    ({"GroupSize": 0}, "GroupSize"), ({"GroupSize": "-2"}, "GroupSize"), ({"GroupSize": "nan"}, "GroupSize"),
    ({"GroupSize": 10**400}, "GroupSize"), ({"GroupSize": 1e300}, "GroupSize"),
    ({"MaxFilesPerTask": 1.5}, "MaxFilesPerTask"),
    ({"MaxFiles": 0}, "MaxFiles"),
])
def test_bad_parameters(parameters: dict[str, object], name: str) -> None:
    with pytest.raises(InvalidTransformation, match=name) as info:
        BySize(parameters)
    assert info.value.fields["parameter"] == name


def test_fractional_gigabytes() -> None:
    assert BySize({"GroupSize": "0.5"}).group_bytes == 0.5 * 1000 * 1000 * 1000


SES = ["A", "B", "C-TAPE"]
lfns = st.integers(0, 40).map(lambda i: f"/lfn/{i:03d}")
sized_files = st.dictionaries(lfns, st.tuples(st.lists(st.sampled_from(SES), max_size=3),
                                              st.one_of(st.none(), st.integers(0, 30))), max_size=40)


@settings(max_examples=300, deadline=None)
@given(files=sized_files, group_gb=st.sampled_from([1e-9, 2.5e-9, 7e-9, 1.5e-8, 3.3e-8, 1.0]),
       max_files=st.integers(1, 5), flush=st.booleans())
def test_same_tasks_as_the_model_of_dirac(files: dict[str, tuple[list[str], int | None]], group_gb: float,
                                          max_files: int, flush: bool) -> None:
    replicas = {lfn: ses for lfn, (ses, _) in files.items()}
    sizes = {lfn: size for lfn, (_, size) in files.items() if size is not None}
    context = SplitContext(tape_ses=frozenset({"C-TAPE"}))
    splitter = BySize({"GroupSize": group_gb, "MaxFilesPerTask": max_files}, context)
    ours = splitter.split(replicas, sizes=sizes, flush=flush)
    assert pairs(ours) == reference.bysize(replicas, sizes, group_gb, max_files=max_files, flush=flush,
                                          tape={"C-TAPE"})

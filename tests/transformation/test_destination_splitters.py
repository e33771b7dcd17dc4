"""BySiteList (Standard at listed sites) and ByFreeSpace (destinations with the most room)."""

from __future__ import annotations

import pytest

from dirac_core.errors import InvalidTransformation
from dirac_core.plugins.splitters import SplitContext
from dirac_core.transformation.splitters import ByFreeSpace, BySiteList

GB = 10**9
SITES = {"SE-A": "Site.A", "SE-A-TAPE": "Site.A", "SE-B": "Site.B", "SE-C": "Site.C"}


def site_list(files: dict[str, list[str]], sites: object, *, flush: bool = False,
              group_size: int = 2) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    context = SplitContext(se_sites=SITES, tape_ses=frozenset({"SE-A-TAPE"}))
    tasks = BySiteList({"Sites": sites, "GroupSize": group_size}, context).split(files, flush=flush)
    return [(t.target_ses, t.lfns) for t in tasks]


def test_replicas_outside_the_sites_are_ignored() -> None:
    files = {"/ab1": ["SE-A", "SE-B"], "/ab2": ["SE-B", "SE-A"], "/c": ["SE-C"], "/bc": ["SE-B", "SE-C"]}
    assert site_list(files, "Site.A") == [(("SE-A",), ("/ab1", "/ab2"))]
    assert site_list(files, ["Site.B"], flush=True, group_size=3) == [(("SE-B",), ("/ab1", "/ab2", "/bc"))]
    assert site_list(files, "Site.A, Site.B", flush=True, group_size=5) == [
        (("SE-A", "SE-B"), ("/ab1", "/ab2")), (("SE-B",), ("/bc",))]


def test_two_passes_disk_first_within_the_sites() -> None:
    files = {"/x": ["SE-A-TAPE", "SE-A"], "/t": ["SE-A-TAPE"], "/d": ["SE-A"]}
    assert site_list(files, "Site.A") == [(("SE-A",), ("/x", "/d"))]


def test_unknown_ses_belong_to_no_site() -> None:
    assert site_list({"/u": ["SE-UNKNOWN"]}, "Site.A", flush=True) == []


@pytest.mark.parametrize(("parameters", "name"), [({}, "Sites"), ({"Sites": ""}, "Sites"),
                                                  ({"Sites": "X", "GroupSize": 0}, "GroupSize")])
def test_site_list_bad_parameters(parameters: dict[str, object], name: str) -> None:
    with pytest.raises(InvalidTransformation, match=name):
        BySiteList(parameters)


def free_space(files: dict[str, list[str]], free: dict[str, int], sizes: dict[str, int] | None = None,
               **parameters: object) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    parameters.setdefault("GroupSize", 1)
    context = SplitContext(se_sites=SITES, free_space=free)
    tasks = ByFreeSpace(parameters, context).split(files, flush=True, sizes=sizes)
    return [(t.target_ses, t.lfns) for t in tasks]


def test_the_target_with_most_room_is_chosen_and_its_room_shrinks() -> None:
    files = {f"/f{i}": ["SRC"] for i in range(4)}
    sizes = dict.fromkeys(files, 10 * GB)
    tasks = free_space(files, {"SE-A": 35 * GB, "SE-B": 20 * GB}, sizes, TargetSE="SE-A, SE-B")
    # A (35) > B (20); A (25) > B (20); B (20) > A (15); A (15) > B (10)
    assert [targets for targets, _ in tasks] == [("SE-A",), ("SE-A",), ("SE-B",), ("SE-A",)]


def test_ties_follow_the_target_order() -> None:
    tasks = free_space({"/f": ["SRC"]}, {"SE-A": 5, "SE-B": 5}, TargetSE="SE-B, SE-A")
    assert tasks == [(("SE-B",), ("/f",))]


def test_min_free_space_and_unknown_room() -> None:
    files = {f"/f{i}": ["SRC"] for i in range(3)}
    sizes = dict.fromkeys(files, GB)
    tasks = free_space(files, {"SE-A": 4 * GB}, sizes, TargetSE="SE-A, SE-B", MinFreeSpace=2)
    # SE-B's room is unknown: never chosen; SE-A takes two files and keeps its 2 GB
    assert tasks == [(("SE-A",), ("/f0",)), (("SE-A",), ("/f1",))]


def test_several_destinations_and_targets_holding_the_files_excluded() -> None:
    files = {"/f": ["SE-A"]}
    free = {"SE-A": 100, "SE-B": 50, "SE-C": 70}
    assert free_space(files, free, TargetSE="SE-A, SE-B, SE-C", Destinations=2) == [
        (("SE-B", "SE-C"), ("/f",))]
    assert free_space(files, free, TargetSE="SE-A", Destinations=2) == []


def test_free_space_groups_like_standard() -> None:
    files = {f"/f{i}": ["SRC"] for i in range(5)}
    context = SplitContext(free_space={"SE-A": 10**15})
    splitter = ByFreeSpace({"TargetSE": "SE-A", "GroupSize": 2}, context)
    assert [t.lfns for t in splitter.split(files)] == [("/f0", "/f1"), ("/f2", "/f3")]
    assert ByFreeSpace.needs == {"sizes", "free_space"}


@pytest.mark.parametrize(("parameters", "name"), [
    ({}, "TargetSE"), ({"TargetSE": "A", "Destinations": 0}, "Destinations"),
    ({"TargetSE": "A", "MinFreeSpace": "lots"}, "MinFreeSpace"),
    ({"TargetSE": "A", "GroupSize": 0}, "GroupSize"),
])
def test_free_space_bad_parameters(parameters: dict[str, object], name: str) -> None:
    with pytest.raises(InvalidTransformation, match=name):
        ByFreeSpace(parameters)


def test_free_space_defaults() -> None:
    splitter = ByFreeSpace({"TargetSE": "A"})
    assert (splitter.destinations, splitter.group_size, splitter.min_free) == (1, 10, 0)

"""Broadcast: DIRAC's replication splitter (TargetSE, SourceSE, Destinations), seeded shuffles."""

from __future__ import annotations

import pytest

from dirac_core.errors import InvalidTransformation
from dirac_core.plugins.splitters import SplitContext
from dirac_core.transformation.splitters import Broadcast

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


def by_first_lfn(tasks: list) -> list[tuple[str, list[str]]]:  # type: ignore[type-arg]
    return sorted(((",".join(t.target_ses), list(t.lfns)) for t in tasks), key=lambda pair: pair[1][0])


def test_files_at_the_source_go_to_the_target() -> None:
    tasks = Broadcast({"SourceSE": "SE1", "TargetSE": "SE2", "GroupSize": 1}).split(DATA)
    assert by_first_lfn(tasks) == [("SE2", [lfn]) for lfn, ses in sorted(DATA.items()) if "SE1" in ses]


def test_incomplete_groups_wait_for_flush() -> None:
    splitter = Broadcast({"SourceSE": "['SE1']", "TargetSE": ["SE2"], "GroupSize": 10})
    assert splitter.split(DATA) == []
    flushed = splitter.split(DATA, flush=True)
    assert len(flushed) == 1 and set(flushed[0].lfns) == {lfn for lfn, ses in DATA.items() if "SE1" in ses}


def test_without_source_every_file_with_a_replica() -> None:
    files = {**DATA, "/nowhere": []}
    tasks = Broadcast({"TargetSE": ["SE2"], "GroupSize": 1}).split(files)
    assert by_first_lfn(tasks) == [("SE2", [lfn]) for lfn in sorted(DATA)]


def test_group_size_defaults_to_one() -> None:
    assert Broadcast({"TargetSE": "SE9"}).group_size == 1


def test_tasks_target_the_sorted_target_set_and_keep_input_order() -> None:
    files = {f"/f{i}": ["SRC"] for i in (3, 1, 2)}
    tasks = Broadcast({"TargetSE": "T2, T1", "GroupSize": 3}).split(files)
    assert [(t.target_ses, t.lfns) for t in tasks] == [(("T1", "T2"), ("/f3", "/f1", "/f2"))]


GRID = {"SRC": "Site.S", "T-S": "Site.S", "T-A": "Site.A", "T-B": "Site.B", "T-A2": "Site.A"}


def targets_seen(parameters: dict[str, object], count: int = 200) -> set[tuple[str, ...]]:
    files = {f"/f{i}": ["SRC"] for i in range(count)}
    tasks = Broadcast(parameters, SplitContext(se_sites=GRID, seed=3)).split(files, flush=True)
    return {task.target_ses for task in tasks}


def test_destinations_limits_new_sites_and_counts_every_target_chosen_before() -> None:
    # DIRAC's rule: a target at a site holding the file is always kept; a target at a new site
    # only while fewer than Destinations targets are chosen, the kept source-site one included
    seen = targets_seen({"TargetSE": ["T-S", "T-A", "T-B"], "Destinations": 1})
    assert seen == {("T-S",), ("T-A", "T-S"), ("T-B", "T-S")}


def test_a_second_target_at_an_already_chosen_site_is_kept() -> None:
    seen = targets_seen({"TargetSE": ["T-A", "T-A2", "T-B"], "Destinations": 1})
    assert seen == {("T-A", "T-A2"), ("T-B",)}


def test_destinations_not_below_the_number_of_targets_means_all() -> None:
    assert targets_seen({"TargetSE": ["T-A", "T-B"], "Destinations": 2}) == {("T-A", "T-B")}
    assert targets_seen({"TargetSE": ["T-A", "T-B"], "Destinations": 0}) == {("T-A", "T-B")}


def test_the_seed_drives_the_shuffle() -> None:
    files = {f"/f{i}": ["SRC"] for i in range(60)}
    parameters = {"TargetSE": ["T-A", "T-B"], "Destinations": 1}

    def run(seed: int) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
        tasks = Broadcast(parameters, SplitContext(se_sites=GRID, seed=seed)).split(files)
        return [(task.target_ses, task.lfns) for task in tasks]

    assert run(1) == run(1)
    assert run(1) != run(2)
    assert {targets for targets, _ in run(1)} == {("T-A",), ("T-B",)}


@pytest.mark.parametrize(("parameters", "name"), [
    ({}, "TargetSE"), ({"TargetSE": []}, "TargetSE"), ({"TargetSE": "None"}, "TargetSE"),
    ({"TargetSE": "[1, 2]"}, "TargetSE"), ({"TargetSE": "T", "Destinations": "two"}, "Destinations"),
    ({"TargetSE": "T", "GroupSize": -1}, "GroupSize"), ({"TargetSE": "T", "SourceSE": 5}, "SourceSE"),
])
def test_bad_parameters(parameters: dict[str, object], name: str) -> None:
    with pytest.raises(InvalidTransformation, match=name):
        Broadcast(parameters)


@pytest.mark.parametrize("spelling", ["SE1,SE2", " SE1 , SE2 ", "['SE1', 'SE2']", ["SE1", "SE2", "SE1"],
                                      ("SE1", "SE2")])
def test_se_list_spellings(spelling: object) -> None:
    assert Broadcast({"TargetSE": spelling}).targets == ("SE1", "SE2")

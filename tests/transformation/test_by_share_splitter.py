"""ByShare: groups like Standard, each task to the site furthest below its CPU share."""

from __future__ import annotations

import logging

import pytest

from dirac_core.plugins.splitters import SplitContext
from dirac_core.transformation.splitters import ByShare

SITES = {"SE-A": "Site.A", "SE-A2": "Site.A", "SE-B": "Site.B", "SE-C": "Site.C"}


def run(files: dict[str, list[str]], shares: dict[str, float], used: dict[str, int] | None = None,
        group_size: int = 1) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    context = SplitContext(se_sites=SITES, shares=shares, used=used or {})
    return [(t.target_ses, t.lfns) for t in ByShare({"GroupSize": group_size}, context).split(files)]


def test_equal_shares_alternate_first_site_first_on_a_tie() -> None:
    files = {f"/f{i}": ["SE-A", "SE-B"] for i in range(4)}
    assert [targets for targets, _ in run(files, {"Site.A": 1, "Site.B": 1})] == [
        ("SE-A",), ("SE-B",), ("SE-A",), ("SE-B",)]
    assert run(files, {"Site.B": 1, "Site.A": 1})[0][0] == ("SE-B",)


def test_shares_are_followed() -> None:
    files = {f"/f{i}": ["SE-A", "SE-B"] for i in range(100)}
    targets = [targets for targets, _ in run(files, {"Site.A": 75, "Site.B": 25})]
    assert targets.count(("SE-A",)) == 75 and targets.count(("SE-B",)) == 25


def test_existing_usage_counts_per_site() -> None:
    files = {f"/f{i}": ["SE-A", "SE-B"] for i in range(4)}
    # Site.A already has 2 + 3 files through its two SEs: the next four go to Site.B
    targets = [t for t, _ in run(files, {"Site.A": 50, "Site.B": 50}, used={"SE-A": 2, "SE-A2": 3})]
    assert targets == [("SE-B",)] * 4
    # usage at a site without a share, or at an unknown SE, does not count
    targets = [t for t, _ in run(files, {"Site.A": 50, "Site.B": 50}, used={"SE-C": 50, "SE-X": 9})]
    assert targets == [("SE-A",), ("SE-B",), ("SE-A",), ("SE-B",)]


def test_one_task_to_the_first_se_of_the_site_holding_the_files() -> None:
    files = {"/f1": ["SE-A2", "SE-A"], "/f2": ["SE-A", "SE-A2"]}
    assert run(files, {"Site.A": 1}, group_size=2) == [(("SE-A",), ("/f1", "/f2"))]


def test_groups_at_no_site_with_a_share_wait() -> None:
    files = {"/c": ["SE-C"], "/x": ["SE-UNKNOWN"], "/a": ["SE-A"]}
    assert run(files, {"Site.A": 1, "Site.C": 0}) == [(("SE-A",), ("/a",))]


def test_without_shares_no_task(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert run({"/a": ["SE-A"]}, {}) == []
        assert run({"/a": ["SE-A"]}, {"Site.A": 0}) == []
    assert "no non-zero CPU shares" in caplog.text


def test_groups_are_standard_groups() -> None:
    files = {f"/f{i}": ["SE-A"] for i in range(5)}
    assert run(files, {"Site.A": 1}, group_size=2) == [
        (("SE-A",), ("/f0", "/f1")), (("SE-A",), ("/f2", "/f3"))]


def test_needs_usage() -> None:
    assert ByShare.needs == {"usage"}

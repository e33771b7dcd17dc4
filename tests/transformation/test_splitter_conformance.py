"""Every registered splitter passes the splitter conformance suite."""

from __future__ import annotations

from dirac_core.plugins import PluginGroup, available
from dirac_core.testing.conformance import SplitterSuite

ALL_SITES = "LCG.CERN.cern, LCG.CNAF.it, LCG.GRIDKA.de, LCG.PIC.es"
ALL_SES = ["CERN-DISK", "CERN-USER", "CNAF-DISK", "GRIDKA-DISK", "PIC-TAPE"]


class TestStandard(SplitterSuite):
    name = "Standard"
    parameters = {"GroupSize": 4}
    bad_parameters = [({"GroupSize": 0}, "GroupSize"), ({"GroupSize": "ten"}, "GroupSize"),
                      ({"GroupSize": 2.5}, "GroupSize"), ({"GroupSize": True}, "GroupSize")]
    capabilities = frozenset({"count_groups", "flush_takes_all"})


class TestBySize(SplitterSuite):
    name = "BySize"
    parameters = {"GroupSize": "7.5", "MaxFilesPerTask": 3}
    bad_parameters = [({"GroupSize": 0}, "GroupSize"), ({"GroupSize": -1}, "GroupSize"),
                      ({"GroupSize": "big"}, "GroupSize"), ({"GroupSize": float("inf")}, "GroupSize"),
                      ({"MaxFilesPerTask": 0}, "MaxFilesPerTask"), ({"MaxFiles": "many"}, "MaxFiles")]
    capabilities = frozenset({"size_groups", "needs_sizes", "flush_takes_all"})


class TestBroadcast(SplitterSuite):
    name = "Broadcast"
    parameters = {"TargetSE": "CERN-DISK, CNAF-DISK, GRIDKA-DISK", "Destinations": 1, "GroupSize": 3}
    bad_parameters = [({}, "TargetSE"), ({"TargetSE": ""}, "TargetSE"), ({"TargetSE": "['A',"}, "TargetSE"),
                      ({"TargetSE": "A", "Destinations": -1}, "Destinations"),
                      ({"TargetSE": "A", "GroupSize": 0}, "GroupSize"),
                      ({"TargetSE": "A", "SourceSE": [3]}, "SourceSE")]
    capabilities = frozenset({"count_groups", "flush_takes_all"})


class TestByShare(SplitterSuite):
    name = "ByShare"
    parameters = {"GroupSize": 4}
    bad_parameters = [({"GroupSize": -3}, "GroupSize")]
    capabilities = frozenset({"count_groups", "flush_takes_all"})


class TestBySiteList(SplitterSuite):
    name = "BySiteList"
    parameters = {"Sites": ALL_SITES, "GroupSize": 4}
    bad_parameters = [({}, "Sites"), ({"Sites": [1]}, "Sites"),
                      ({"Sites": "X", "GroupSize": "x"}, "GroupSize")]
    capabilities = frozenset({"count_groups", "flush_takes_all"})


class TestByFreeSpace(SplitterSuite):
    name = "ByFreeSpace"
    parameters = {"TargetSE": ALL_SES, "Destinations": 2, "GroupSize": 4, "MinFreeSpace": 1}
    bad_parameters = [({}, "TargetSE"), ({"TargetSE": "A", "Destinations": 0}, "Destinations"),
                      ({"TargetSE": "A", "MinFreeSpace": -1}, "MinFreeSpace")]
    capabilities = frozenset({"count_groups", "flush_takes_all"})


class TestByMetadata(SplitterSuite):
    name = "ByMetadata"
    parameters = {"MetaKeys": "run, stream", "GroupSize": 4}
    bad_parameters = [({}, "MetaKeys"), ({"MetaKeys": "[unclosed"}, "MetaKeys"),
                      ({"MetaKeys": "run", "GroupSize": 0}, "GroupSize")]
    capabilities = frozenset({"count_groups", "needs_metadata", "flush_takes_all"})


def test_every_registered_splitter_runs_the_suite() -> None:
    suites = {cls.name for cls in SplitterSuite.__subclasses__() if cls.__module__ == __name__}
    assert suites == set(available(PluginGroup.SPLITTERS))

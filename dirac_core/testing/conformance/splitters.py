"""Conformance suite for :class:`~dirac_core.plugins.splitters.Splitter` drivers.

Subclass :class:`SplitterSuite` and set ``name`` (the splitter's entry-point name: the suite
loads it through ``dirac.splitters``, so the test also proves the registration),
``parameters`` (parameters that work on the suite's grid, see :data:`GRID_SES`) and
``bad_parameters`` (pairs of parameters the constructor must refuse and the name of the
parameter at fault). Capabilities:

- ``count_groups``: without flush every task holds exactly ``GroupSize`` files;
- ``size_groups``: without flush every task holds more than ``GroupSize`` GB, or
  ``MaxFilesPerTask`` files, or one file larger than ``GroupSize`` GB (``BySize``);
- ``needs_sizes``: a file of size 0 or of unknown size is never in a task (and ``needs``
  has ``"sizes"``);
- ``needs_metadata``: a file without metadata is never in a task (``needs`` has ``"metadata"``);
- ``flush_takes_all``: with flush, every file the splitter can take (one with a replica, and a
  size or metadata where it needs them) is in a task, on the suite's grid (where every SE has
  a site, every site a share, and there is room everywhere).

Whatever it declares, a splitter must: put a file in at most one task, and only files it was
given that have a replica; change none of its arguments; give the same tasks again for the
same input and seed; build without a context; refuse bad parameters in its constructor; give
the same tasks without the sizes or metadata its ``needs`` does not name.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import pytest

from dirac_core.errors import InvalidTransformation
from dirac_core.plugins.groups import PluginGroup
from dirac_core.plugins.loading import load_driver
from dirac_core.plugins.splitters import SplitContext, Splitter, TaskGroup
from dirac_core.testing.conformance.base import ConformanceSuite

__all__ = ["GRID_CONTEXT", "GRID_SES", "SPECIAL", "SplitterSuite", "grid_files"]

#: The SEs of the suite's grid and their sites (two SEs at CERN; PIC's is tape).
GRID_SES: Mapping[str, str] = {
    "CERN-DISK": "LCG.CERN.cern", "CERN-USER": "LCG.CERN.cern", "CNAF-DISK": "LCG.CNAF.it",
    "GRIDKA-DISK": "LCG.GRIDKA.de", "PIC-TAPE": "LCG.PIC.es",
}
#: Everything a splitter may know about the grid.
GRID_CONTEXT = SplitContext(
    se_sites=GRID_SES, tape_ses=frozenset({"PIC-TAPE"}),
    free_space=dict.fromkeys(GRID_SES, 10**15),
    shares={"LCG.CERN.cern": 40, "LCG.CNAF.it": 25, "LCG.GRIDKA.de": 25, "LCG.PIC.es": 10},
    used={"CERN-DISK": 120, "CNAF-DISK": 10}, seed=11,
)
#: Files no splitter may take (``no-replica``), or only those not needing what they lack.
SPECIAL = {"no-replica": "/vo/special/no-replica", "zero-size": "/vo/special/zero-size",
           "unknown-size": "/vo/special/unknown-size", "no-metadata": "/vo/special/no-metadata"}

#: replicas, sizes and metadata, as ``split`` takes them
Files = tuple[Mapping[str, Sequence[str]], Mapping[str, int], Mapping[str, Mapping[str, Any]]]


def grid_files(count: int = 300, seed: int = 5) -> Files:
    """``count`` files at 1 to 3 SEs of the grid (listed in no particular order), their sizes
    (1 to 4 GB) and metadata (``run``, ``stream``), then the :data:`SPECIAL` files."""
    rng = random.Random(seed)
    ses = sorted(GRID_SES)
    replicas: dict[str, list[str]] = {}
    sizes: dict[str, int] = {}
    metadata: dict[str, dict[str, Any]] = {}
    for i in range(count):
        lfn = f"/vo/data/run{i % 4}/file_{i:05d}.raw"
        replicas[lfn] = rng.sample(ses, rng.randint(1, 3))
        sizes[lfn] = rng.randint(1, 4) * 10**9 + rng.randint(0, 10**8)
        metadata[lfn] = {"run": 1000 + i % 4, "stream": "EM" if i % 3 else "HAD"}
    for kind, lfn in SPECIAL.items():
        replicas[lfn] = [] if kind == "no-replica" else ["CERN-DISK", "CNAF-DISK"]
        if kind != "unknown-size":
            sizes[lfn] = 0 if kind == "zero-size" else 2 * 10**9
        if kind != "no-metadata":
            metadata[lfn] = {"run": 1000, "stream": "EM"}
    return replicas, sizes, metadata


class SplitterSuite(ConformanceSuite):
    """Tests every splitter must pass."""

    known_capabilities = frozenset({"count_groups", "size_groups", "needs_sizes", "needs_metadata",
                                    "flush_takes_all"})
    #: the splitter's name in ``dirac.splitters``
    name: ClassVar[str] = ""
    #: parameters that work on the suite's grid
    parameters: ClassVar[Mapping[str, Any]] = {}
    #: (parameters, the name of the wrong parameter) pairs the constructor must refuse
    bad_parameters: ClassVar[Sequence[tuple[Mapping[str, Any], str]]] = ()

    @pytest.fixture
    def splitter_class(self) -> type[Splitter]:
        cls = load_driver(PluginGroup.SPLITTERS, self.name)
        assert isinstance(cls, type) and issubclass(cls, Splitter)
        return cls

    @pytest.fixture
    def splitter(self, splitter_class: type[Splitter]) -> Splitter:
        return splitter_class(self.parameters, GRID_CONTEXT)

    @pytest.fixture
    def files(self) -> Files:
        return grid_files()

    def split(self, splitter: Splitter, files: Files, *, flush: bool) -> list[TaskGroup]:
        replicas, sizes, metadata = files
        return splitter.split(replicas, flush=flush, sizes=sizes, metadata=metadata)

    def takeable(self, files: Files) -> set[str]:
        """The files a splitter declaring ``flush_takes_all`` must put in tasks when flushing."""
        replicas, sizes, metadata = files
        out = {lfn for lfn, ses in replicas.items() if ses}
        if self.has("needs_sizes"):
            out -= {lfn for lfn in out if not sizes.get(lfn)}
        if self.has("needs_metadata"):
            out -= {lfn for lfn in out if lfn not in metadata}
        return out

    def test_parameters_used_are_documented(self, splitter_class: type[Splitter]) -> None:
        assert isinstance(splitter_class.defaults, Mapping)
        assert set(self.parameters) <= set(splitter_class.defaults), "document every parameter in defaults"

    def test_builds_without_a_context(self, splitter_class: type[Splitter]) -> None:
        assert splitter_class(self.parameters).split({}) == []

    @pytest.mark.parametrize("flush", [False, True])
    def test_no_files_no_task(self, splitter: Splitter, flush: bool) -> None:
        assert splitter.split({}, flush=flush, sizes={}, metadata={}) == []

    @pytest.mark.parametrize("flush", [False, True])
    def test_tasks_are_well_formed(self, splitter: Splitter, files: Files, flush: bool) -> None:
        tasks = self.split(splitter, files, flush=flush)
        assert isinstance(tasks, list)
        for task in tasks:
            assert isinstance(task, TaskGroup)
            assert isinstance(task.lfns, tuple) and task.lfns and all(isinstance(x, str) for x in task.lfns)
            assert isinstance(task.target_ses, tuple) and task.target_ses
            assert all(isinstance(se, str) and se for se in task.target_ses)

    @pytest.mark.parametrize("flush", [False, True])
    def test_every_file_in_at_most_one_task(self, splitter: Splitter, files: Files, flush: bool) -> None:
        grouped = [lfn for task in self.split(splitter, files, flush=flush) for lfn in task.lfns]
        assert len(grouped) == len(set(grouped))

    @pytest.mark.parametrize("flush", [False, True])
    def test_only_given_files_with_a_replica(self, splitter: Splitter, files: Files, flush: bool) -> None:
        replicas = files[0]
        grouped = {lfn for task in self.split(splitter, files, flush=flush) for lfn in task.lfns}
        assert grouped <= {lfn for lfn, ses in replicas.items() if ses}

    def test_arguments_are_not_changed(self, splitter: Splitter, files: Files) -> None:
        before = copy.deepcopy(files)
        self.split(splitter, files, flush=True)
        self.split(splitter, files, flush=False)
        assert files == before

    @pytest.mark.parametrize("flush", [False, True])
    def test_deterministic_for_a_seed(self, splitter_class: type[Splitter], files: Files,
                                      flush: bool) -> None:
        first = splitter_class(self.parameters, GRID_CONTEXT)
        again = self.split(first, files, flush=flush)
        assert self.split(first, files, flush=flush) == again  # no state kept between calls
        assert self.split(splitter_class(self.parameters, GRID_CONTEXT), files, flush=flush) == again

    def test_replicas_as_tuples_or_lists(self, splitter: Splitter, files: Files) -> None:
        replicas, sizes, metadata = files
        as_tuples = {lfn: tuple(ses) for lfn, ses in replicas.items()}
        assert self.split(splitter, (as_tuples, sizes, metadata), flush=True) == \
            self.split(splitter, files, flush=True)

    def test_no_partial_group_without_flush(self, splitter: Splitter, files: Files) -> None:
        tasks = self.split(splitter, files, flush=False)
        flushed = {lfn for task in self.split(splitter, files, flush=True) for lfn in task.lfns}
        assert {lfn for task in tasks for lfn in task.lfns} <= flushed, "flushing may only add files"
        sizes = files[1]
        if self.has("count_groups"):
            group_size = int(float(self.parameters.get("GroupSize", splitter.defaults["GroupSize"])))
            assert tasks and all(len(task.lfns) == group_size for task in tasks)
        if self.has("size_groups"):
            limit = float(self.parameters.get("GroupSize", splitter.defaults["GroupSize"])) * 10**9
            most = int(self.parameters.get("MaxFilesPerTask", splitter.defaults["MaxFilesPerTask"]))
            assert tasks
            for task in tasks:
                total = sum(sizes[lfn] for lfn in task.lfns)
                assert total > limit or len(task.lfns) == most, task
                assert len(task.lfns) <= most

    def test_flush_takes_what_can_be_grouped(self, splitter: Splitter, files: Files) -> None:
        grouped = {lfn for task in self.split(splitter, files, flush=True) for lfn in task.lfns}
        takeable = self.takeable(files)
        assert grouped <= takeable
        if self.has("flush_takes_all"):
            assert grouped == takeable

    def test_sizes_and_metadata_as_declared(self, splitter: Splitter, files: Files) -> None:
        replicas, sizes, metadata = files
        needs = type(splitter).needs
        assert needs <= {"sizes", "metadata", "usage", "free_space"}
        tasks = self.split(splitter, files, flush=True)
        grouped = {lfn for task in tasks for lfn in task.lfns}
        without_sizes = splitter.split(replicas, flush=True, sizes=None, metadata=metadata)
        without_metadata = splitter.split(replicas, flush=True, sizes=sizes, metadata=None)
        # what the splitter does not declare, the caller does not fetch: it must not matter
        assert "sizes" in needs or without_sizes == tasks
        assert "metadata" in needs or without_metadata == tasks
        if self.has("needs_sizes"):
            assert "sizes" in needs
            assert not grouped & {SPECIAL["zero-size"], SPECIAL["unknown-size"]}
            assert without_sizes == []
        if self.has("needs_metadata"):
            assert "metadata" in needs
            assert SPECIAL["no-metadata"] not in grouped
            assert without_metadata == []

    def test_bad_parameters_refused_at_construction(self, splitter_class: type[Splitter]) -> None:
        assert self.bad_parameters, "list at least one refused parameter"
        for parameters, name in self.bad_parameters:
            with pytest.raises(InvalidTransformation) as info:
                splitter_class(parameters)
            assert info.value.fields.get("parameter") == name, (parameters, info.value)
            assert name in str(info.value)

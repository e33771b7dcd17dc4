"""Splitter throughput: grouping a transformation's files into tasks, in memory.

Run with ``pytest benchmarks/test_splitter_bench.py -s --benchmark-enable --benchmark-only``. Each
benchmark prints the measured rate (median and mean of its rounds), the target from the issue and
DIRAC 9.1's measured rate for the same work (Standard ~800,000 files/s, BySize ~360,000 files/s).

The input is a production's: 100,000 files with 1 to 3 replicas (in no particular order) at 5 SEs,
one of them tape; tasks of about 10 files (``GroupSize`` 10; for BySize, files of 1 to 4 GB and
``GroupSize`` 23 GB).
"""

from __future__ import annotations

import random
import statistics
import time
from collections.abc import Callable

from pytest_benchmark.fixture import BenchmarkFixture

from dirac_core.plugins.splitters import SplitContext, TaskGroup
from dirac_core.transformation.splitters import Broadcast, ByMetadata, ByShare, BySize, Standard

FILES = 100_000
SES = ["CERN-DISK", "CNAF-DISK", "GRIDKA-DISK", "IN2P3-DISK", "PIC-TAPE"]
CONTEXT = SplitContext(
    se_sites={"CERN-DISK": "LCG.CERN.cern", "CNAF-DISK": "LCG.CNAF.it", "GRIDKA-DISK": "LCG.GRIDKA.de",
              "IN2P3-DISK": "LCG.IN2P3.fr", "PIC-TAPE": "LCG.PIC.es"},
    tape_ses=frozenset({"PIC-TAPE"}),
    shares={"LCG.CERN.cern": 30, "LCG.CNAF.it": 20, "LCG.GRIDKA.de": 20, "LCG.IN2P3.fr": 20,
            "LCG.PIC.es": 10},
    seed=7,
)
DIRAC = {"Standard": 800_000, "BySize": 360_000}
TARGET = {"Standard": 1_200_000, "BySize": 550_000}


def production() -> tuple[dict[str, list[str]], dict[str, int], dict[str, dict[str, object]]]:
    rng = random.Random(20240)
    replicas: dict[str, list[str]] = {}
    sizes: dict[str, int] = {}
    metadata: dict[str, dict[str, object]] = {}
    for i in range(FILES):
        lfn = f"/lhcb/MC/2024/SIM/00012345/{i // 1000:04d}/00012345_{i:08d}_1.sim"
        replicas[lfn] = rng.sample(SES, rng.randint(1, 3))
        sizes[lfn] = rng.randint(1_000_000_000, 4_000_000_000)
        metadata[lfn] = {"RunNumber": 200_000 + i // 5_000}
    return replicas, sizes, metadata


REPLICAS, SIZES, METADATA = production()


def rate(work: Callable[[], object], rounds: int = 5) -> tuple[float, float]:
    """Files per second of ``work`` over ``rounds`` runs: (median, mean), for the side figures."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return FILES / statistics.median(times), FILES / statistics.mean(times)


def measured(benchmark: BenchmarkFixture) -> tuple[float, float]:
    return FILES / benchmark.stats.stats.median, FILES / benchmark.stats.stats.mean


def table(title: str, rows: list[tuple[str, tuple[float, float], int | None, int | None]]) -> None:
    """Print the figures; the median is the one compared with the target."""
    print(f"\n{title}")
    print(f"  {'':44} {'median/s':>11} {'mean/s':>11} {'DIRAC 9.1/s':>12} {'target':>11}")
    for label, (median, mean), dirac, target in rows:
        dirac_text = f"{dirac:>12,}" if dirac else f"{'':>12}"
        mark = "" if target is None else f"{target:>11,}" + (" ok" if median >= target else " BELOW")
        print(f"  {label:44} {median:>11,.0f} {mean:>11,.0f} {dirac_text} {mark}")


def files_in(tasks: list[TaskGroup]) -> int:
    return sum(len(task.lfns) for task in tasks)


def test_standard(benchmark: BenchmarkFixture) -> None:
    splitter = Standard({"GroupSize": 10}, CONTEXT)
    tasks = benchmark.pedantic(splitter.split, args=(REPLICAS,), rounds=15, iterations=1, warmup_rounds=2)
    assert all(len(task.lfns) == 10 for task in tasks)
    assert files_in(tasks) > 0.99 * FILES
    ours = measured(benchmark)
    benchmark.extra_info.update(files_per_s=round(ours[0]), tasks=len(tasks))
    table(f"Standard: {FILES:,} files at 1-3 of 5 SEs into {len(tasks):,} tasks of 10", [
        ("Standard, GroupSize 10", ours, DIRAC["Standard"], TARGET["Standard"]),
        ("  the same, flushing", rate(lambda: splitter.split(REPLICAS, flush=True)), None, None),
        ("  ByShare, GroupSize 10 (5 sites' shares)",
         rate(lambda: ByShare({"GroupSize": 10}, CONTEXT).split(REPLICAS)), None, None),
        ("  ByMetadata, RunNumber, GroupSize 10",
         rate(lambda: ByMetadata({"MetaKeys": "RunNumber"}, CONTEXT).split(REPLICAS, metadata=METADATA)),
         None, None),
        ("  Broadcast to 3 SEs, Destinations 2, GroupSize 10",
         rate(lambda: Broadcast({"TargetSE": SES[:3], "Destinations": 2, "GroupSize": 10}, CONTEXT)
              .split(REPLICAS), rounds=3), None, None),
    ])


def test_by_size(benchmark: BenchmarkFixture) -> None:
    splitter = BySize({"GroupSize": 23, "MaxFilesPerTask": 100}, CONTEXT)
    tasks = benchmark.pedantic(splitter.split, args=(REPLICAS,), kwargs={"sizes": SIZES}, rounds=15,
                               iterations=1, warmup_rounds=2)
    mean_files = files_in(tasks) / len(tasks)
    assert 9 <= mean_files <= 11
    assert files_in(tasks) > 0.99 * FILES
    assert all(sum(SIZES[lfn] for lfn in task.lfns) > 23e9 for task in tasks)
    ours = measured(benchmark)
    benchmark.extra_info.update(files_per_s=round(ours[0]), tasks=len(tasks), files_per_task=mean_files)
    table(f"BySize: {FILES:,} files of 1-4 GB into {len(tasks):,} tasks of > 23 GB "
          f"({mean_files:.1f} files each)", [
        ("BySize, GroupSize 23 GB", ours, DIRAC["BySize"], TARGET["BySize"]),
        ("  the same, flushing", rate(lambda: splitter.split(REPLICAS, sizes=SIZES, flush=True)), None, None),
    ])

"""The demo's small transformation: copy tagged files to a second SE, in tasks of two."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from dirac_core.interware import Interware
from dirac_core.transformation import TransformationSpec

__all__ = ["small_transformation"]


def small_transformation(console: Console, iw: Interware, path: Path) -> None:
    """Four files tagged ``kind=raw``; a Replication transformation whose input query selects
    them, split in pairs by Broadcast; its requests executed; the progress shown."""
    if iw.dm is None or iw.catalog is None:
        console.print("transformations: no file catalog configured, skipped")
        return
    admin = iw.identity("admin", "demo_admin")
    dm = iw.data_manager(admin)
    source = path / "raw.dat"
    source.write_text("raw event data\n")
    iw.catalog.add_metadata_field("kind", "string", for_files=False)
    for i in range(4):
        dm.put_and_register(f"/demo/data/raw/file-{i}.dat", source, "Embedded-SE")
    iw.catalog.set_metadata({"/demo/data/raw": {"kind": "raw"}}).raise_for_failures()
    ts = iw.transformations
    made = ts.create(TransformationSpec(name="demo-copy-raw", type="Replication", plugin="Broadcast",
                                        group_size=2, input_query={"kind": "raw"},
                                        parameters={"TargetSE": "Embedded-SE2", "SourceSE": "Embedded-SE"}),
                     admin)
    ts.start(made.transformation_id)
    split = ts.split(made.transformation_id)[made.transformation_id]
    ts.submit_tasks(made.transformation_id)
    iw.request_executor.run_once()
    ts.monitor_tasks(made.transformation_id, delay=timedelta(0))
    stats = ts.stats(made.transformation_id)
    table = Table("transformation", "files", "tasks", "processed",
                  title="a Replication transformation: input query kind=raw, Broadcast in pairs")
    table.add_row(f"{made.transformation_id} {made.name}",
                  ", ".join(f"{k}={v}" for k, v in sorted(stats.files.items())),
                  ", ".join(f"{k}={v}" for k, v in sorted(stats.tasks.items())),
                  "-" if stats.processed_percent is None else f"{stats.processed_percent}%")
    console.print(table)
    replicas = iw.catalog.get_replicas([f"/demo/data/raw/file-{i}.dat" for i in range(4)]).ok
    console.print(f"  {split.tasks} tasks of {split.files} files; replicas now: "
                  f"{sorted({se for ses in replicas.values() for se in ses})}", highlight=False)

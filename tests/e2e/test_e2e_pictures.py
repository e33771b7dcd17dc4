"""The seed's two examples end to end on real storage, on every database backend.

The grid of docs/examples/pictures.toml, with its tape SE behind a real XRootD server (the disks
are directories with quotas): Ada's 2018 sunsets get one copy on tape and one on a Tier2 disk
chosen by free space, in groups of at most 100; then a production runs the red-enhancer on each,
only at Tier2 sites (real payload processes, pulled by pilots running in this process), and
archives its outputs to tape. docs/notebook.md is the same session on SQLite and plain directories.
"""

from __future__ import annotations

import random
import sys
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from dirac_core.config import load_config
from dirac_core.db import Database
from dirac_core.interware import Interware
from dirac_core.model.clock import SystemClock
from dirac_core.pilot.local import run_local_pilot
from dirac_core.plugins.manager import make_plugin_manager
from dirac_core.testing.xrootd import XRootDServer
from dirac_core.transformation import TransformationSpec
from dirac_core.transformation.productions import ProductionStep

GRID = Path(__file__).parents[2] / "docs" / "examples" / "pictures.toml"
HOME = "/astro/user/a/ada/pictures"
SUNSETS = {"year": 2018, "tag": "sunset"}
ENHANCER = """
import pathlib
for picture in sorted(pathlib.Path().glob("img*.ppm")):
    header, pixels = picture.read_bytes().split(b"\\n", 1)
    pathlib.Path(f"red_{picture.name}").write_bytes(
        header + b"\\n" + bytes(min(255, 2 * v) if i % 3 == 0 else v for i, v in enumerate(pixels)))
"""


def _grid(root: Path, db_url: str, xrootd: XRootDServer) -> str:
    text = GRID.read_text().replace("{root}", root.as_posix())
    text = text.replace(f'url = "sqlite:///{root.as_posix()}/dirac.sqlite"', f'url = "{db_url}"')
    tape = f'type = "file"\npath = "{root.as_posix()}/geneva-tape"'
    assert tape in text
    return text.replace(tape, f'type = "root"\nhost = "{xrootd.host}"\nport = {xrootd.root_port}\n'
                              f'path = "/tape-{uuid.uuid4().hex[:8]}"')


@pytest.fixture
def iw(database: Database, xrootd_server: XRootDServer, tmp_path: Path) -> Interware:
    db_url = database.url.render_as_string(hide_password=False)
    config = load_config(_grid(tmp_path, db_url, xrootd_server), format="toml")
    with Interware(config=config, database=database, clock=SystemClock(),
                   hooks=make_plugin_manager(())) as interware:
        yield interware


def _upload_albums(iw: Interware, tmp_path: Path) -> None:
    dm = iw.data_manager(iw.identity("ada", "astro_prod"))
    iw.catalog.add_metadata_field("year", "int", for_files=False)
    iw.catalog.add_metadata_field("tag", "string", for_files=False)
    for (year, tag), count in {(2018, "sunset"): 250, (2017, "sunset"): 20, (2018, "beach"): 20}.items():
        album = f"{HOME}/{year}/{tag}"
        iw.catalog.create_directories([album])
        iw.catalog.set_metadata({album: {"year": year, "tag": tag}}).raise_for_failures()
        for i in range(count):
            picture = tmp_path / "upload.ppm"
            picture.write_bytes(b"P6 32 40 255\n" + random.Random(year * 1000 + i).randbytes(32 * 40 * 3))
            dm.put_and_register(f"{album}/img{i:04d}.ppm", picture, "GENEVA-DISK")


def _cycle(iw: Interware) -> None:
    ts = iw.transformations
    ts.split()
    ts.submit_tasks()
    iw.request_executor.run_once()
    ts.monitor_tasks(delay=timedelta(0))


def test_sunsets_to_tape_and_disk_then_red_enhanced_at_tier2(iw: Interware, tmp_path: Path,
                                                            xrootd_server: XRootDServer) -> None:
    _upload_albums(iw, tmp_path)
    ada = iw.identity("ada", "astro_prod")
    ts = iw.transformations
    copies = [ts.create(TransformationSpec(name=f"sunset-{kind}", type="Replication", plugin="ByFreeSpace",
                                           group_size=100, parameters={"TargetSE": targets},
                                           input_query=SUNSETS), ada).transformation_id
              for kind, targets in (("tape", "GENEVA-TAPE"), ("disk", "OSLO-DISK, BARI-DISK"))]
    for tid in copies:
        assert len(ts.files(tid)) == 250          # selected by the query at creation, nothing else
        ts.start(tid)
    _cycle(iw)
    assert [ts.stats(tid).tasks_created for tid in copies] == [2, 2]  # the last 50 wait for a flush
    for tid in copies:
        ts.flush(tid)
    _cycle(iw)
    assert [ts.stats(tid).processed_percent for tid in copies] == [100.0, 100.0]
    disk = copies[1]
    assert [(t.target_ses, len(t.lfns)) for t in ts.tasks(disk)] == [
        (("BARI-DISK",), 100), (("OSLO-DISK",), 100), (("BARI-DISK",), 50)]
    replicas = iw.catalog.get_replicas([f.lfn for f in ts.files(disk)]).ok
    assert len(replicas) == 250
    assert all("GENEVA-TAPE" in ses and len(ses & {"OSLO-DISK", "BARI-DISK"}) == 1
               for ses in replicas.values())
    first = f"{HOME}/2018/sunset/img0000.ppm"
    tape_base = iw.config.resources.storage_elements["GENEVA-TAPE"].protocols[0].path
    assert xrootd_server.local_path(f"{tape_base}{first}").stat().st_size == 13 + 32 * 40 * 3
    assert iw.catalog.get_replicas([f"{HOME}/2017/sunset/img0000.ppm"]).ok[
        f"{HOME}/2017/sunset/img0000.ppm"] == {"GENEVA-DISK"}

    # the red-enhancer, once on each sunset, only at Tier2 sites; its outputs archived to tape
    enhancer = tmp_path / "software" / "red-enhancer.py"
    enhancer.parent.mkdir()
    enhancer.write_text(ENHANCER)
    tier2 = iw.config.resources.sites_of_tier(2)
    assert tier2 == ["LCG.Bari.it", "LCG.Oslo.no"]
    iw.catalog.add_metadata_field("product", "string", for_files=False)
    iw.catalog.create_directories([f"{HOME}/red"])
    iw.catalog.set_metadata({f"{HOME}/red": {"product": "red"}}).raise_for_failures()
    job = (f'[ Executable = "{sys.executable}"; Arguments = "{enhancer}"; OutputData = {{ "red_*.ppm" }};'
           ' OutputPath = "pictures/red"; CPUTime = 600; ]')
    iw.productions.create("red-enhancer", [
        ProductionStep(name="enhance", type="DataProcessing", plugin="BySiteList", group_size=10, body=job,
                       parameters={"Sites": tier2}, input_query=SUNSETS, output_query={"product": "red"}),
        ProductionStep(name="archive", type="Replication", plugin="Broadcast", group_size=50,
                       parameters={"TargetSE": "GENEVA-TAPE"}, input_query={"product": "red"},
                       parents=("enhance",)),
    ], ada)
    iw.productions.start("red-enhancer", ada)
    _cycle(iw)
    ran = {site: run_local_pilot(iw, site=site, work_dir=tmp_path / "nodes" / site)
           for site in ("LCG.Geneva.ch", *tier2)}
    assert {site: len(report.outcomes) for site, report in ran.items()} == {
        "LCG.Geneva.ch": 0, "LCG.Bari.it": 15, "LCG.Oslo.no": 10}
    assert {o.status for report in ran.values() for o in report.outcomes} == {"Done"}
    enhance = iw.productions.get("red-enhancer").transformations[0]
    sites = {iw.wms.get_jobs([t.external_id])[t.external_id]["site"] for t in ts.tasks(enhance)}
    assert sites == set(tier2)
    _cycle(iw)
    _cycle(iw)
    progress = iw.productions.progress("red-enhancer")
    assert [(s.step, s.stats.total, s.stats.processed_percent) for s in progress.steps] == [
        ("enhance", 250, 100.0), ("archive", 250, 100.0)]
    assert progress.processed_percent == 100.0
    outputs = iw.catalog.get_replicas([f"{HOME}/red/red_img{i:04d}.ppm" for i in range(250)]).ok
    assert set(map(frozenset, outputs.values())) == {frozenset({"GENEVA-DISK", "GENEVA-TAPE"})}
    dm = iw.data_manager(ada)
    before = dm.get_file(first, tmp_path / "before.ppm").read_bytes()[13:]
    after = dm.get_file(f"{HOME}/red/red_img0000.ppm", tmp_path / "after.ppm").read_bytes()[13:]
    assert after == bytes(min(255, 2 * v) if i % 3 == 0 else v for i, v in enumerate(before))

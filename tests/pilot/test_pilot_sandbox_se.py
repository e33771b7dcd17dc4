"""Embedded use with the sandboxes on a storage element: ``[sandboxes] se`` in the site's dirac.toml.

The pilot, the store the library builds (``SandboxStore.for_interware``) and ``dirac-core job
output --local`` all find the sandboxes there; without the section they stay in ``sandboxes``
beside the SQLite file.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from pilot_helpers import make_pilot
from typer.testing import CliRunner

from dirac_core.cli import app as cli_app
from dirac_core.config import load_config
from dirac_core.errors import ConfigError, NotFound
from dirac_core.interware import EMBEDDED_CONFIG, Interware
from dirac_core.wms.sandbox_archives import pack
from dirac_core.wms.sandbox_bytes import DirectoryBytes, StorageElementBytes
from dirac_core.wms.sandboxes import SandboxStore


def _site(path: Path, extra: str = "") -> Path:
    path.mkdir(parents=True)
    (path / "dirac.toml").write_text(EMBEDDED_CONFIG.format(root=path.resolve().as_posix()) + extra)
    return path


@pytest.fixture
def site(tmp_path: Path) -> Path:
    return _site(tmp_path / "site", '\n[sandboxes]\nse = "Embedded-SE2"\nse_path = "/sb"\n')


@pytest.fixture
def iw(site: Path) -> Iterator[Interware]:
    with Interware.embedded(site) as interware:
        yield interware


def _objects(base: Path) -> list[str]:
    return sorted(p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file())


def test_a_pilot_reads_and_writes_sandboxes_on_the_configured_se(iw: Interware, site: Path,
                                                                  tmp_path: Path) -> None:
    store = SandboxStore.for_interware(iw)
    assert store is not None and isinstance(store.backend, StorageElementBytes)
    assert (store.backend.se.name, store.backend.base_path) == ("Embedded-SE2", "/sb")
    (tmp_path / "in.txt").write_text("from the SE")
    archive = tmp_path / "in.tar.bz2"
    with archive.open("w+b") as out:
        checksum, size = pack([tmp_path / "in.txt"], out)
    pfn, present = store.init_upload(iw.identity("alice"), checksum, size, "tar.bz2")
    assert not present
    with archive.open("rb") as data:
        store.store(pfn, data)
    [job] = iw.wms.submit(f'[Executable = "/bin/sh"; Arguments = "-c \'cp in.txt out.txt\'";'
                          f' InputSandbox = {{"{pfn}"}}; OutputSandbox = {{"out.txt"}};]',
                          iw.identity("alice"))
    [outcome] = make_pilot(iw, tmp_path / "work").run().outcomes
    assert outcome.status == "Done", outcome
    [output] = store.of_job(job.job_id)["output"]
    output_sum = output.rsplit("sha256:", 1)[1].split(".")[0]
    # both archives are objects of the second SE, under /sb; nothing beside the database
    assert _objects(site / "storage2" / "sb") == sorted(
        [f"demo/sha256:{checksum}.tar.bz2", f"demo/sha256:{output_sum}.tar.bz2"])
    assert not (site / "sandboxes").exists() and not (site / "storage" / "sb").exists()
    stored = site / "storage2" / "sb" / "demo" / f"sha256:{output_sum}.tar.bz2"
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == output_sum

    dest = tmp_path / "out"
    result = CliRunner().invoke(cli_app, ["job", "output", str(job.job_id), "--local", str(site),
                                          "--user", "alice", "--dest", str(dest)])
    assert result.exit_code == 0, result.output
    assert (dest / "out.txt").read_text() == "from the SE"


def test_where_the_store_goes(tmp_path: Path) -> None:
    with Interware.embedded(tmp_path / "plain") as plain:  # no [sandboxes]: beside the database
        store = SandboxStore.for_interware(plain)
        assert store is not None and isinstance(store.backend, DirectoryBytes)
        assert store.backend.root == (tmp_path / "plain" / "sandboxes").resolve()
        chosen = SandboxStore.for_interware(plain, directory=tmp_path / "elsewhere", max_size=10)
        assert isinstance(chosen, SandboxStore) and isinstance(chosen.backend, DirectoryBytes)
        assert (chosen.backend.root, chosen.max_size) == (tmp_path / "elsewhere", 10)
        on_se = SandboxStore.for_interware(plain, se="Embedded-SE")
        assert isinstance(on_se, SandboxStore) and isinstance(on_se.backend, StorageElementBytes)
        name = f"demo/sha256:{'0' * 64}.tar.zst"
        assert on_se.backend.lfn(name) == f"/sandboxes/{name}"
        with pytest.raises(ConfigError, match="not both"):
            SandboxStore.for_interware(plain, directory=tmp_path, se="Embedded-SE")
        with pytest.raises(NotFound, match="no storage element 'Nowhere'"):
            SandboxStore.for_interware(plain, se="Nowhere")
    in_memory = Interware.from_config(load_config('[database]\nurl = "sqlite://"\n', format="toml"))
    with in_memory:
        assert SandboxStore.for_interware(in_memory) is None  # nothing says where
    with pytest.raises(ConfigError) as caught:
        load_config('[sandboxes]\nse = "Nowhere"\ndirectory = "/d"\nse_path = "rel"\n', format="toml")
    assert [path for path, _ in caught.value.problems] == ["sandboxes.se", "sandboxes.se_path"]
    with pytest.raises(ConfigError, match=r"sandboxes\.se: unknown storage element 'Nowhere'"):
        load_config('[sandboxes]\nse = "Nowhere"\n', format="toml")

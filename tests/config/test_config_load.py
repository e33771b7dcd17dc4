"""Loading valid configurations from TOML, YAML and text, and dumping them back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from dirac_core.config import (
    ArcCE,
    BatchCE,
    BatchSystem,
    Config,
    HTCondorCE,
    LocalCE,
    MemoryCatalogSection,
    Property,
    RootProtocol,
    S3Protocol,
    SqlCatalog,
    Transport,
    dump_config,
    load_config,
    make_converter,
    structure_config,
    unstructure_config,
)
from dirac_core.config.resources import AccessStatus, Medium


def test_toml_and_yaml_examples_load_equal(examples: Path) -> None:
    from_toml = load_config(examples / "site.toml")
    from_yaml = load_config(examples / "site.yaml")
    assert from_toml == from_yaml
    assert from_toml != Config()


def test_text_and_path_load_equal(examples: Path) -> None:
    path = examples / "site.toml"
    assert load_config(path.read_text()) == load_config(str(path))


def test_yaml_text_needs_format(examples: Path) -> None:
    text = (examples / "site.yaml").read_text()
    assert load_config(text, format="yaml") == load_config(examples / "site.toml")


def test_empty_config_is_valid() -> None:
    assert load_config("# nothing\n") == Config()
    assert load_config("# nothing\n", format="yaml") == Config()


def test_site_example_content(examples: Path) -> None:
    cfg = load_config(examples / "site.toml")
    reg = cfg.registry
    assert reg.default_group == "astro_user"
    assert reg.users["ada"].name == "ada"  # filled from the key
    assert reg.groups["astro_user"].job_share == 1000  # DIRAC's default share
    prod = reg.groups["astro_prod"]
    assert prod.job_share == 4000
    assert prod.job_sharing
    assert prod.has_property(Property.PRODUCTION_MANAGEMENT)
    assert reg.groups["neutrino_user"].has_property("NeutrinoCalibration")
    assert [g.name for g in reg.groups_of("prodbot")] == ["astro_pilot", "astro_prod"]
    assert reg.user_by_sub("3f1c6a52-6d1e-4f7a-9f55-0a6a2d9c1f10") is reg.users["ada"]
    assert reg.user_by_dn("/DC=org/DC=example/OU=People/CN=Enrico Fermi") is reg.users["enrico"]

    res = cfg.resources
    geneva = res.site("LCG.Geneva.ch")
    assert geneva.grid == "LCG"
    assert geneva.coordinates == (6.05, 46.23)
    slurm = geneva.ce("slurm.geneva.example.ch")
    assert isinstance(slurm, BatchCE)
    assert slurm.type == "batch"
    assert slurm.batch_system is BatchSystem.SLURM
    assert slurm.transport is Transport.SSH
    assert slurm.port == 22
    assert slurm.options == {"partition": "grid", "reservation_hosts": ("n1", "n2")}
    long = slurm.queues["long"]
    assert (long.name, long.max_cpu_time, long.processors) == ("long", 172800, 8)
    assert long.tags == frozenset({"MultiProcessor", "GPU"})
    assert isinstance(geneva.ce("condor.geneva.example.ch"), HTCondorCE)
    assert isinstance(res.site("LCG.Bologna.it").ces[0], ArcCE)
    assert isinstance(res.site("DIRAC.Local.org").ces[0], LocalCE)
    assert res.is_allowed("LCG.Geneva.ch")
    assert not res.is_allowed("LCG.Nowhere.xx")

    xrd = res.storage_elements["GENEVA-XRD"]
    assert xrd.check_access is AccessStatus.DEGRADED
    assert xrd.read_access is AccessStatus.ACTIVE
    assert xrd.medium is Medium.DISK
    assert isinstance(xrd.protocols[0], RootProtocol)
    assert xrd.protocols[0].port == 1094
    assert xrd.protocols[1].type == "davs"
    assert xrd.protocols[1].write is False
    s3 = res.storage_elements["BOLOGNA-S3"].protocols[0]
    assert isinstance(s3, S3Protocol)
    assert s3.bucket == "neutrino"
    assert isinstance(res.catalogs["dfc"], SqlCatalog)
    assert isinstance(res.catalogs["scratch"], MemoryCatalogSection)
    assert res.master_catalog() is res.catalogs["dfc"]


def test_operations_merge_vo_over_defaults(examples: Path) -> None:
    ops = load_config(examples / "site.toml").operations
    neutrino = ops.policy("neutrino")
    assert neutrino.default_priority == 3
    assert neutrino.failover_ses == ("BOLOGNA-S3",)  # replaces, not appends
    assert neutrino.max_parametric_jobs == 500  # inherited from defaults
    assert neutrino.running_limit("LCG.Geneva.ch", "JobType", "User") == 50
    assert neutrino.matching_delay("LCG.Bologna.it", "JobType", "User") == 30
    astro = ops.policy("astro")  # no section of its own
    assert astro is ops.defaults
    assert astro.matching_delay("LCG.Bologna.it", "JobType", "User") == 0
    assert astro.running_limit("LCG.Bologna.it", "JobType", "User") is None


@pytest.mark.parametrize("fmt", ["toml", "yaml"])
def test_dump_then_load_is_equal(examples: Path, fmt: Any) -> None:
    cfg = load_config(examples / "site.toml")
    text = dump_config(cfg, format=fmt)
    assert load_config(text, format=fmt) == cfg


def test_unstructure_structure_round_trip(examples: Path) -> None:
    conv = make_converter()
    cfg = load_config(examples / "site.toml")
    data = unstructure_config(cfg, conv)
    # plain data only: YAML's safe dumper refuses anything else
    yaml.safe_dump(data)
    assert data["resources"]["sites"]["LCG"]["LCG.Geneva.ch"]["ces"][0]["type"] == "batch"
    assert "name" not in data["registry"]["users"]["ada"]
    assert structure_config(data, conv) == cfg


def test_round_trip_keeps_vo_value_equal_to_class_default(site_data: dict[str, Any]) -> None:
    # the VO asks for the class default while the defaults differ: the dump must keep it
    site_data["operations"]["vos"]["neutrino"]["max_parametric_jobs"] = 1000
    cfg = structure_config(site_data)
    assert cfg.operations.policy("neutrino").max_parametric_jobs == 1000
    assert load_config(dump_config(cfg)) == cfg


def test_python_construction_takes_enum_strings() -> None:
    ce = BatchCE(name="ce", batch_system="pbs", transport="local")
    assert ce.batch_system is BatchSystem.PBS
    assert ce.type == "batch"

"""Every invalid input gives ONE ConfigError naming every wrong key path."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from dirac_core.config import BatchCE, Registry, User, load_config, structure_config
from dirac_core.config.registry import VO, Group
from dirac_core.errors import ConfigError

CE0 = "resources.sites.LCG.LCG.Geneva.ch.ces[0]"


def _problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(ConfigError) as info:
        structure_config(data)
    return dict(info.value.problems)


def _slurm(data: dict[str, Any]) -> dict[str, Any]:
    ce: dict[str, Any] = data["resources"]["sites"]["LCG"]["LCG.Geneva.ch"]["ces"][0]
    return ce


def test_extra_key_is_named(site_data: dict[str, Any]) -> None:
    _slurm(site_data)["queues"]["long"]["max_cpu_tme"] = 10
    site_data["registry"]["users"]["ada"]["mail"] = "x@y"
    problems = _problems(site_data)
    assert set(problems) == {f"{CE0}.queues.long.max_cpu_tme", "registry.users.ada.mail"}
    assert "unknown key" in problems["registry.users.ada.mail"]
    assert "email" in problems["registry.users.ada.mail"]  # the allowed keys are listed


def test_wrong_type_names_exact_path(site_data: dict[str, Any]) -> None:
    _slurm(site_data)["queues"]["long"]["max_cpu_time"] = "abc"
    with pytest.raises(ConfigError) as info:
        structure_config(site_data, source="site.toml")
    assert info.value.problems == [(f"{CE0}.queues.long.max_cpu_time", "expected int, got 'abc'")]
    assert info.value.source == "site.toml"
    assert ("resources.sites.LCG.LCG.Geneva.ch.ces[0].queues.long.max_cpu_time: "
            "expected int, got 'abc'") in str(info.value)


@pytest.mark.parametrize(("value", "why"), [
    (True, "expected int, got True"),
    (1.5, "expected int, got 1.5"),
    ("12", "expected int, got '12'"),
    ([1], "expected int, got a list"),
])
def test_ints_are_strict(site_data: dict[str, Any], value: Any, why: str) -> None:
    site_data["registry"]["groups"]["astro_user"]["job_share"] = value
    assert _problems(site_data) == {"registry.groups.astro_user.job_share": why}


def test_several_errors_named_at_once(site_data: dict[str, Any]) -> None:
    _slurm(site_data)["queues"]["short"]["max_total_jobs"] = "many"
    _slurm(site_data)["batch_system"] = "slurmx"
    site_data["registry"]["groups"]["astro_user"]["job_sharing"] = "yes"
    site_data["resources"]["storage_elements"]["GENEVA-XRD"]["protocols"][1]["port"] = "443"
    site_data["operations"]["defaults"]["stalled_time"] = -1
    del site_data["resources"]["storage_elements"]["BOLOGNA-S3"]["protocols"][0]["bucket"]
    problems = _problems(site_data)
    assert problems == {
        f"{CE0}.queues.short.max_total_jobs": "expected int, got 'many'",
        f"{CE0}.batch_system": "expected one of slurm, htcondor, pbs, lsf, sge, oar, fork; "
                               "got 'slurmx'",
        "registry.groups.astro_user.job_sharing": "expected bool, got 'yes'",
        "resources.storage_elements.GENEVA-XRD.protocols[1].port": "expected int, got '443'",
        "operations.defaults.stalled_time": "must be >= 1: -1",
        "resources.storage_elements.BOLOGNA-S3.protocols[0].bucket": "required field missing",
    }


def test_unknown_plugin_type_lists_known_ones(site_data: dict[str, Any]) -> None:
    _slurm(site_data)["type"] = "kubernetes"
    site_data["resources"]["catalogs"]["dfc"]["type"] = "lfc"
    problems = _problems(site_data)
    assert problems[f"{CE0}.type"] == ("unknown computing_element type 'kubernetes'; "
                                       "known types: arc, batch, cloud, htcondorce, local, memory, vacuum")
    assert problems["resources.catalogs.dfc.type"] == \
        "unknown catalog type 'lfc'; known types: memory, remote, sql"


def test_missing_plugin_type(site_data: dict[str, Any]) -> None:
    del site_data["resources"]["storage_elements"]["LOCAL-DISK"]["protocols"][0]["type"]
    problems = _problems(site_data)
    assert list(problems) == ["resources.storage_elements.LOCAL-DISK.protocols[0].type"]
    assert "file, gfal2, https, davs" not in problems  # listed sorted:
    assert "davs, file, gfal2, https, memory, root, s3" in next(iter(problems.values()))


def test_group_with_missing_user_and_vo(site_data: dict[str, Any]) -> None:
    site_data["registry"]["groups"]["astro_user"]["users"].append("mallory")
    site_data["registry"]["groups"]["astro_pilot"]["vo"] = "nova"
    assert _problems(site_data) == {
        "registry.groups.astro_user.users": "unknown user 'mallory'",
        "registry.groups.astro_pilot.vo": "unknown VO 'nova'",
    }


def test_cross_checks_of_resources(site_data: dict[str, Any]) -> None:
    site_data["resources"]["site_mask"].append("LCG.Nowhere.xx")
    site_data["resources"]["sites"]["LCG"]["LCG.Bologna.it"]["ses"] = ["NO-SE"]
    site_data["resources"]["catalogs"]["scratch"]["master"] = True
    assert _problems(site_data) == {
        "resources.site_mask": "unknown site 'LCG.Nowhere.xx'",
        "resources.sites.LCG.LCG.Bologna.it.ses[0]": "unknown storage element 'NO-SE'",
        "resources.catalogs": "more than one master catalog: dfc, scratch",
    }


def test_cross_checks_between_sections(site_data: dict[str, Any]) -> None:
    # checks that span registry, resources and operations run once each part is valid
    site_data["operations"]["vos"]["nova"] = {}
    site_data["operations"]["defaults"]["failover_ses"] = ["GENEVA-XRD", "LOST-SE"]
    site_data["operations"]["vos"]["neutrino"]["running_limits"] = {"LCG.Nowhere.xx": {}}
    assert _problems(site_data) == {
        "operations.vos.nova": "unknown VO 'nova'",
        "operations.defaults.failover_ses[1]": "unknown storage element 'LOST-SE'",
        "operations.vos.nova.failover_ses[1]": "unknown storage element 'LOST-SE'",
        "operations.vos.neutrino.running_limits.LCG.Nowhere.xx": "unknown site 'LCG.Nowhere.xx'",
    }


def test_site_under_the_wrong_grid(site_data: dict[str, Any]) -> None:
    sites = site_data["resources"]["sites"]
    sites["CLOUD"] = {"LCG.Bologna.it": sites["LCG"].pop("LCG.Bologna.it")}
    problems = _problems(site_data)
    assert "resources.sites.CLOUD.LCG.Bologna.it" in problems


def test_ssh_batch_ce_needs_host(site_data: dict[str, Any]) -> None:
    del _slurm(site_data)["host"]
    assert _problems(site_data) == {f"{CE0}.host": "required when transport is 'ssh'"}


def test_name_differing_from_key(site_data: dict[str, Any]) -> None:
    site_data["registry"]["users"]["ada"]["name"] = "ada2"
    assert _problems(site_data) == {"registry.users.ada.name": "'ada2' differs from its key"}


def test_wrong_container_shapes(site_data: dict[str, Any]) -> None:
    bad = copy.deepcopy(site_data)
    bad["registry"]["users"] = ["ada"]
    bad["resources"]["sites"]["LCG"]["LCG.Geneva.ch"]["ses"] = "GENEVA-XRD"
    bad["operations"]["defaults"]["running_limits"]["LCG.Geneva.ch"]["JobType"]["User"] = "x"
    problems = _problems(bad)
    assert problems["registry.users"] == "expected a table, got a list"
    assert problems["resources.sites.LCG.LCG.Geneva.ch.ses"] == \
        "expected a list, got 'GENEVA-XRD'"
    assert problems["operations.defaults.running_limits.LCG.Geneva.ch.JobType.User"] == \
        "expected int, got 'x'"


def test_bad_option_value(site_data: dict[str, Any]) -> None:
    _slurm(site_data)["options"]["nested"] = {"a": 1}
    problems = _problems(site_data)
    assert list(problems) == [f"{CE0}.options.nested"]
    assert problems[f"{CE0}.options.nested"].startswith("expected a string, number")


def test_priority_outside_bounds(site_data: dict[str, Any]) -> None:
    site_data["operations"]["vos"]["neutrino"]["default_priority"] = 11
    assert _problems(site_data) == {
        "operations.vos.neutrino.default_priority": "11 is outside 0..10"}


def test_file_missing(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_config(missing)
    assert info.value.source == str(missing)
    assert str(missing) in str(info.value)
    assert "file not found" in str(info.value)


def test_unknown_suffix(tmp_path: Path) -> None:
    path = tmp_path / "site.ini"
    path.write_text("a = 1\n")
    with pytest.raises(ConfigError, match="cannot tell the format"):
        load_config(path)


def test_toml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[registry]\ndefault_group = \"x\"\nthis is not toml\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.source == str(path)
    assert "TOML syntax error at line 3" in str(info.value)


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("registry:\n  vos: {astro: {}\n  users: [\n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "YAML syntax error at line" in str(info.value)
    assert str(path) in str(info.value)


def test_top_level_must_be_a_table() -> None:
    with pytest.raises(ConfigError, match="top level must be a table"):
        load_config("- a\n- b\n", format="yaml")


def test_errors_from_python_construction() -> None:
    with pytest.raises(ConfigError) as info:
        Registry(vos={"astro": VO(name="astro")},
                 groups={"g": Group(name="g", vo="nova", users=frozenset({"bob"}))},
                 default_group="h")
    assert info.value.problems == [("groups.g.vo", "unknown VO 'nova'"),
                                   ("groups.g.users", "unknown user 'bob'"),
                                   ("default_group", "unknown group 'h'")]
    with pytest.raises(ValueError, match="must match regex"):
        User(name="eve", dns=("CN=no leading slash",))
    with pytest.raises(ConfigError):
        BatchCE(name="ce", batch_system="slurm", transport="ssh")

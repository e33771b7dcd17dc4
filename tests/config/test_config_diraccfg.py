"""Importing a DIRAC .cfg file into the same model."""

from __future__ import annotations

from pathlib import Path

import pytest

from dirac_core.config import (
    ArcCE,
    BatchCE,
    BatchSystem,
    CloudCE,
    Gfal2Protocol,
    HTCondorCE,
    LocalCE,
    RootProtocol,
    SqlCatalog,
    Transport,
    dump_config,
    load_config,
    load_dirac_cfg,
)
from dirac_core.config.resources import AccessStatus, Medium
from dirac_core.config.sections import ProtocolAccess
from dirac_core.errors import ConfigError

MINIMAL = """
Resources
{
  Sites
  {
    LCG
    {
      LCG.Test.ch
      {
        CE = ce.test.ch
        CEs
        {
          ce.test.ch
          {
            CEType = %s
            Queues
            {
              q
              {
                maxCPUTime = %s
              }
            }
          }
        }
      }
    }
  }
}
"""


def test_sample_registry(examples: Path) -> None:
    reg = load_dirac_cfg(examples / "dirac.cfg").registry
    assert set(reg.vos) == {"astro", "neutrino"}
    assert reg.vos["astro"].voms_name == "astro.example.org"
    assert reg.vos["astro"].default_group == "astro_user"  # from /Registry/DefaultGroup
    assert reg.default_group == "astro_user"
    assert reg.users["enrico"].dns == ("/DC=org/DC=example/OU=People/CN=Enrico Fermi",
                                       "/C=IT/O=INFN/CN=Enrico Fermi")
    prod = reg.groups["astro_prod"]
    assert prod.users == {"prodbot", "ada"}
    assert prod.job_share == 4000
    assert prod.job_sharing
    assert reg.groups["astro_user"].job_share == 1000
    assert reg.groups["dirac_admin"].vo == "astro"  # /DIRAC/VirtualOrganization


def test_sample_computing_elements(examples: Path) -> None:
    res = load_dirac_cfg(examples / "dirac.cfg").resources
    geneva = res.site("LCG.Geneva.ch")
    assert geneva.coordinates == (6.05, 46.23)
    assert geneva.ses == ("GENEVA-DISK", "GENEVA-TAPE")
    ssh = geneva.ce("slurm.geneva.example.ch")
    assert isinstance(ssh, BatchCE)
    assert (ssh.transport, ssh.batch_system) == (Transport.SSH, BatchSystem.SLURM)
    assert (ssh.host, ssh.user, ssh.port) == ("login.geneva.example.ch", "dirpilot", 2222)
    assert ssh.options == {"OS": "EL9"}  # unmapped options are kept
    short, long = ssh.queues["short"], ssh.queues["long"]
    assert short.max_cpu_time == 120 * 60  # minutes in the cfg, seconds here
    assert (short.max_total_jobs, long.max_total_jobs) == (200, 50)  # CE value inherited
    assert long.processors == 8
    assert long.max_ram_mb == 16000
    assert long.tags == {"MultiProcessor", "GPU"}
    condor = geneva.ce("condor.geneva.example.ch")
    assert isinstance(condor, HTCondorCE)
    assert condor.use_local_schedd is False
    arc = res.site("LCG.Bologna.it").ces[0]
    assert isinstance(arc, ArcCE)
    assert arc.url == "https://arex.bologna.example.it:8443/arex"
    assert arc.queues["nordugrid-slurm-grid"].options == {"LocalCEType": "Pool"}
    cloud = res.site("CLOUD.Lab.uk").ces[0]
    assert isinstance(cloud, CloudCE)
    assert (cloud.driver, cloud.image, cloud.flavour) == ("openstack", "dirac-pilot-el9",
                                                          "m1.large")


def test_sample_storage_and_catalog(examples: Path) -> None:
    res = load_dirac_cfg(examples / "dirac.cfg").resources
    disk = res.storage_elements["GENEVA-DISK"]  # inherits from its BaseSE
    assert disk.backend_type == "EOS"
    xroot, https = disk.protocols
    assert isinstance(xroot, Gfal2Protocol)
    assert xroot.protocol == "root"
    assert xroot.path == "/eos/grid/disk"
    assert xroot.host == "eos.geneva.example.ch"
    assert https.read
    assert not https.write
    tape = res.storage_elements["GENEVA-TAPE"]
    assert tape.medium is Medium.TAPE
    assert tape.remove_access is AccessStatus.BANNED
    bologna = res.storage_elements["BOLOGNA-DISK"].protocols
    assert [p.type for p in bologna] == ["gfal2", "gfal2", "root"]
    assert bologna[0].space_token == "NEUTRINO_DISK"
    assert isinstance(bologna[2], RootProtocol)
    assert bologna[2].access is ProtocolAccess.LOCAL
    dfc = res.catalogs["FileCatalog"]
    assert isinstance(dfc, SqlCatalog)
    assert dfc.master
    assert dfc.db_url == "mysql+mysqldb://db.example.org:3306/FileCatalogDB"
    assert "never-read" not in repr(res)


def test_sample_operations(examples: Path) -> None:
    ops = load_dirac_cfg(examples / "dirac.cfg").operations
    assert ops.defaults.max_parametric_jobs == 500
    assert ops.defaults.running_limit("LCG.Geneva.ch", "JobType", "User") == 50
    neutrino = ops.policy("neutrino")
    assert neutrino.default_priority == 3
    assert neutrino.max_cpu_time == 345600
    assert neutrino.matching_delay("LCG.Bologna.it", "JobType", "User") == 30


def test_sample_loads_through_load_config_and_dumps(examples: Path) -> None:
    cfg = load_config(examples / "dirac.cfg")
    assert cfg == load_dirac_cfg(examples / "dirac.cfg")
    assert load_config(dump_config(cfg)) == cfg


@pytest.mark.parametrize(("ce_type", "expected"), [("SSHBatch", BatchCE), ("ARC6", ArcCE),
                                                   ("InProcess", LocalCE)])
def test_ce_type_mapping(ce_type: str, expected: type) -> None:
    ce = load_dirac_cfg(MINIMAL % (ce_type, "60")).resources.site("LCG.Test.ch").ces[0]
    assert isinstance(ce, expected)
    assert ce.queues["q"].max_cpu_time == 3600


def test_unknown_ce_type_and_bad_number_name_cfg_paths() -> None:
    with pytest.raises(ConfigError) as info:
        load_dirac_cfg(MINIMAL % ("CREAM", "lots"))
    ce = "/Resources/Sites/LCG/LCG.Test.ch/CEs/ce.test.ch"
    problems = dict(info.value.problems)
    assert set(problems) == {f"{ce}/CEType", f"{ce}/Queues/q/maxCPUTime"}
    assert "unknown CE type 'CREAM'" in problems[f"{ce}/CEType"]
    assert "SSH" in problems[f"{ce}/CEType"]  # the known types are listed


def test_group_with_unknown_user_is_reported() -> None:
    text = "Registry\n{\n  VO\n  {\n    v\n    {\n    }\n  }\n" \
           "  Groups\n  {\n    g\n    {\n      VO = v\n      Users = ghost\n    }\n  }\n}\n"
    with pytest.raises(ConfigError) as info:
        load_dirac_cfg(text)
    assert info.value.problems == [("registry.groups.g.users", "unknown user 'ghost'")]


def test_missing_cfg_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_dirac_cfg(tmp_path / "no.cfg")


def test_wms_keys_are_imported(tmp_path: Path) -> None:
    cfg_file = tmp_path / "wms.cfg"
    cfg_file.write_text("""
Registry
{
  VO
  {
    demo
    {
    }
  }
}
Resources
{
  Computing
  {
    OSCompatibility
    {
      el9 = el9, el8
      el8 = el8
    }
  }
}
Operations
{
  Defaults
  {
    JobScheduling
    {
      MaxRescheduling = 5
      RescheduleDelays = 10, 20
    }
    JobDescription
    {
      AllowedJobTypes = User, MCSimulation
    }
  }
}
""")
    cfg = load_dirac_cfg(cfg_file)
    assert cfg.resources.os_compatibility == {"el9": {"el9", "el8"}, "el8": {"el8"}}
    assert cfg.resources.compatible_platforms("el8") == {"el8", "el9"}
    policy = cfg.operations.defaults
    assert (policy.max_rescheduling, policy.reschedule_delays) == (5, (10, 20))
    assert policy.allowed_job_types == {"User", "MCSimulation"}

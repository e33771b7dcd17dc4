"""Site tiers (DIRAC's MoUTierLevel) and the CPU shares of a VO's operations policy."""

from __future__ import annotations

import pytest

from dirac_core.config import dump_config, load_config, load_dirac_cfg
from dirac_core.errors import ConfigError

SITES = """
[registry.vos.astro]
name = "astro"

[resources.sites.LCG."LCG.CERN.cern"]
name = "LCG.CERN.cern"
tier = 0

[resources.sites.LCG."LCG.Lyon.fr"]
name = "LCG.Lyon.fr"
tier = 1

[resources.sites.LCG."LCG.Oslo.no"]
name = "LCG.Oslo.no"
tier = 2

[resources.sites.LCG."LCG.Bari.it"]
name = "LCG.Bari.it"
tier = 2

[resources.sites.DIRAC."DIRAC.Home.org"]
name = "DIRAC.Home.org"

[operations.vos.astro.cpu_shares]
"LCG.Oslo.no" = 30
"LCG.Bari.it" = 10.5
"""


def test_sites_are_chosen_by_tier() -> None:
    resources = load_config(SITES, format="toml").resources
    assert resources.sites_of_tier(2) == ["LCG.Bari.it", "LCG.Oslo.no"]
    assert resources.sites_of_tier(0, 1) == ["LCG.CERN.cern", "LCG.Lyon.fr"]
    assert resources.site("DIRAC.Home.org").tier is None


def test_tiers_and_shares_survive_a_dump() -> None:
    config = load_config(SITES, format="toml")
    again = load_config(dump_config(config), format="toml")
    assert again.resources.sites_of_tier(2) == ["LCG.Bari.it", "LCG.Oslo.no"]
    assert again.operations.policy("astro").cpu_shares == {"LCG.Oslo.no": 30, "LCG.Bari.it": 10.5}
    assert again.operations.policy("other").cpu_shares == {}


@pytest.mark.parametrize("tier", ["-1", '"two"', "1.5"])
def test_a_bad_tier_is_refused(tier: str) -> None:
    with pytest.raises(ConfigError, match="tier"):
        load_config(f'[resources.sites.LCG."LCG.A.ch"]\nname = "LCG.A.ch"\ntier = {tier}\n', format="toml")


@pytest.mark.parametrize("share", ["-1", '"big"', "true"])
def test_a_bad_share_is_refused(share: str) -> None:
    with pytest.raises(ConfigError, match=r"cpu_shares"):
        load_config(f'[operations.defaults.cpu_shares]\n"LCG.A.ch" = {share}\n', format="toml")


def test_the_tier_comes_from_dirac_cfg() -> None:
    text = """
Resources
{
  Sites
  {
    LCG
    {
      LCG.Oslo.no
      {
        MoUTierLevel = 2
      }
      LCG.Bad.it
      {
        MoUTierLevel = high
      }
    }
  }
}
"""
    with pytest.raises(ConfigError, match="MoUTierLevel"):
        load_dirac_cfg(text)
    config = load_dirac_cfg(text.replace("MoUTierLevel = high", ""))
    assert config.resources.sites_of_tier(2) == ["LCG.Oslo.no"]

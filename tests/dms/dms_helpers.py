"""A small grid of storage elements with in-memory protocols, and a data manager over it."""

from __future__ import annotations

from dirac_core.config import Config, load_config

GRID = """
[registry.vos.demo]
name = "demo"

[resources]
site_mask = ["DIRAC.A.ch", "DIRAC.B.fr"]

[resources.sites.DIRAC."DIRAC.A.ch"]
name = "DIRAC.A.ch"
ses = ["SE-A"]

[resources.sites.DIRAC."DIRAC.B.fr"]
name = "DIRAC.B.fr"
ses = ["SE-B", "SE-TAPE"]

[resources.storage_elements.SE-A]
name = "SE-A"
[[resources.storage_elements.SE-A.protocols]]
type = "memory"
path = "/a"

[resources.storage_elements.SE-B]
name = "SE-B"
[[resources.storage_elements.SE-B.protocols]]
type = "memory"

[resources.storage_elements.SE-TAPE]
name = "SE-TAPE"
medium = "tape"
[[resources.storage_elements.SE-TAPE.protocols]]
type = "memory"

[resources.storage_elements.SE-BANNED]
name = "SE-BANNED"
read_access = "Banned"
write_access = "Banned"
[[resources.storage_elements.SE-BANNED.protocols]]
type = "memory"
"""


def grid() -> Config:
    """The test grid: SE-A at site A (paths under /a), SE-B and a tape SE at B, a banned SE nowhere."""
    return load_config(GRID, format="toml")

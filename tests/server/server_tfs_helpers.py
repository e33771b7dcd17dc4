"""The grid of the transformation and production server tests: the WMS test grid plus production
managers, a service administrator, a second VO and an SQL catalog on the test database."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wms_helpers import GRID

from dirac_core.config import Config, load_config
from dirac_core.interware import Interware
from dirac_core.plugins.catalog import FileEntry

#: carol and dave manage productions of VO demo (alice and bob are NormalUsers there); sam is a
#: ServiceAdministrator of demo without ProductionManagement; olga manages productions of VO other
TFS_GRID = GRID + """
[registry.vos.other]
name = "other"
default_group = "other_prod"

[registry.users.dave]
name = "dave"
[registry.users.sam]
name = "sam"
[registry.users.olga]
name = "olga"

[registry.groups.demo_prod]
name = "demo_prod"
vo = "demo"
users = ["carol", "dave"]
properties = ["NormalUser", "ProductionManagement"]

[registry.groups.demo_service]
name = "demo_service"
vo = "demo"
users = ["sam"]
properties = ["ServiceAdministrator"]

[registry.groups.other_prod]
name = "other_prod"
vo = "other"
users = ["olga"]
properties = ["NormalUser", "ProductionManagement"]

[resources.catalogs.DiracFileCatalog]
name = "DiracFileCatalog"
type = "sql"
master = true
"""

#: who is who: user, VO, group
MANAGER = ("carol", "demo", "demo_prod")
USER = ("alice", "demo", "demo_user")
SERVICE = ("sam", "demo", "demo_service")
STRANGER = ("olga", "other", "other_prod")

#: files at SE-A
LFNS = [f"/demo/data/f{i}" for i in range(3)]


def tfs_config(url: str, issuer: str = "http://testserver") -> Config:
    """The grid on the database ``url``, tokens issued by ``issuer``."""
    return load_config(f'{TFS_GRID}\n[database]\nurl = "{url}"\n\n[auth]\nissuer = "{issuer}"\n',
                       format="toml")


def token(iw: Interware, who: tuple[str, str, str]) -> str:
    """An access token of ``who`` (user, VO, group)."""
    user, vo, group = who
    return iw.auth.issue(user, vo=vo, group=group)[1].access_token


def bearer(iw: Interware, who: tuple[str, str, str]) -> dict[str, str]:
    """The headers of a call by ``who``."""
    return {"Authorization": f"Bearer {token(iw, who)}"}


def register(iw: Interware, lfns: Sequence[str] = LFNS, se: str = "SE-A") -> None:
    """Register ``lfns`` (10 bytes each) with a replica at ``se``."""
    assert iw.catalog is not None
    iw.catalog.add_files([FileEntry(lfn=lfn, size=10) for lfn in lfns]).raise_for_failures()
    iw.catalog.add_replicas({lfn: [se] for lfn in lfns}).raise_for_failures()


def copy_spec(name: str = "copy", **overrides: Any) -> dict[str, Any]:
    """A Replication transformation to SE-B-disk, split by Standard in pairs, as JSON."""
    return {"name": name, "type": "Replication", "plugin": "Standard", "group_size": 2,
            "parameters": {"TargetSE": "SE-B-disk"}, **overrides}

"""A small grid for the resource status tests: two sites with CEs and queues, file SEs, one broken SE."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dirac_core.config import Config, load_config
from dirac_core.db import Database
from dirac_core.interware import Interware
from dirac_core.model import FakeClock
from dirac_core.plugins.manager import make_plugin_manager
from dirac_core.plugins.policies import Policy
from dirac_core.rss import ResourceStatusSystem

GRID = """
[registry]
default_group = "demo_user"

[registry.vos.demo]
name = "demo"
default_group = "demo_user"

[registry.users.alice]
name = "alice"
[registry.users.admin]
name = "admin"
[registry.users.pilot]
name = "pilot"

[registry.groups.demo_user]
name = "demo_user"
vo = "demo"
users = ["alice", "admin"]
properties = ["NormalUser"]

[registry.groups.demo_pilot]
name = "demo_pilot"
vo = "demo"
users = ["pilot"]
properties = ["GenericPilot"]

[registry.groups.demo_admin]
name = "demo_admin"
vo = "demo"
users = ["admin"]
properties = ["NormalUser", "Operator"]

[resources]
site_mask = ["DIRAC.A.ch", "DIRAC.B.fr"]

[resources.sites.DIRAC."DIRAC.A.ch"]
name = "DIRAC.A.ch"
ses = ["SE-A"]

[[resources.sites.DIRAC."DIRAC.A.ch".ces]]
type = "memory"
name = "ce-a1"
[resources.sites.DIRAC."DIRAC.A.ch".ces.queues.q1]
name = "q1"
max_total_jobs = 10
max_waiting_jobs = 5

[[resources.sites.DIRAC."DIRAC.A.ch".ces]]
type = "memory"
name = "ce-a2"
[resources.sites.DIRAC."DIRAC.A.ch".ces.queues.q1]
name = "q1"
max_total_jobs = 10
max_waiting_jobs = 5

[resources.sites.DIRAC."DIRAC.B.fr"]
name = "DIRAC.B.fr"
ses = ["SE-B", "SE-BROKEN"]

[[resources.sites.DIRAC."DIRAC.B.fr".ces]]
type = "memory"
name = "ce-b"
[resources.sites.DIRAC."DIRAC.B.fr".ces.queues.q1]
name = "q1"
max_total_jobs = 10
max_waiting_jobs = 5

[resources.storage_elements.SE-A]
name = "SE-A"
[[resources.storage_elements.SE-A.protocols]]
type = "file"
path = "{root}/se-a"

[resources.storage_elements.SE-B]
name = "SE-B"
[[resources.storage_elements.SE-B.protocols]]
type = "file"
path = "{root}/se-b"

[resources.storage_elements.SE-BROKEN]
name = "SE-BROKEN"
[[resources.storage_elements.SE-BROKEN.protocols]]
type = "file"
path = "{root}/broken/se"

[resources.catalogs.DiracFileCatalog]
type = "sql"
name = "DiracFileCatalog"
master = true
"""


def policy(kind: str, *element_types: str, **extra: Any) -> str:
    """A ``[[resource_status.policies]]`` entry in TOML."""
    lines = ["[[resource_status.policies]]", f'type = "{kind}"',
             "element_types = [" + ", ".join(f'"{t}"' for t in element_types) + "]"]
    for key, value in extra.items():
        if isinstance(value, dict):
            inner = ", ".join(f"{k} = {_toml(v)}" for k, v in value.items())
            lines.append(f"{key} = {{ {inner} }}")
        else:
            lines.append(f"{key} = {_toml(value)}")
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value).lower() if isinstance(value, bool) else str(value)


def grid_config(root: Path, extra: str = "") -> Config:
    """The test grid; ``extra`` adds TOML (a ``[resource_status]`` section, policies).

    SE-BROKEN's directory is under a regular file: every write to it fails.
    """
    (root / "broken").write_text("not a directory")
    text = GRID + ("\n[resource_status]\n" if "[resource_status]" not in extra else "\n") + extra
    return load_config(text.replace("{root}", root.as_posix()), format="toml")


def make_system(database: Database, clock: FakeClock, root: Path, extra: str = "", *,
                drivers: Mapping[str, type[Policy]] | None = None, **kwargs: Any) -> ResourceStatusSystem:
    """A resource status system alone on the test database."""
    return ResourceStatusSystem(database=database, config=grid_config(root, extra), clock=clock,
                                drivers=drivers, **kwargs)


def make_interware(database: Database, clock: FakeClock, root: Path, extra: str = "") -> Interware:
    """A whole interware on the test database (close with :func:`close_interware`)."""
    return Interware(config=grid_config(root, extra), database=database, clock=clock,
                     hooks=make_plugin_manager(entry_points=False))


def close_interware(iw: Interware) -> None:
    """Close what the interware holds except the fixture's database."""
    iw.request_executor.close()
    iw.storage.close()
    iw.status.close()

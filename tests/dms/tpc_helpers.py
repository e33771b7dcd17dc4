"""A data manager over the SQL catalog and storage elements described as data, for the replication tests."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from dirac_core.config import Config, load_config
from dirac_core.db import Database
from dirac_core.dms.manager import DataManager
from dirac_core.dms.storage_element import StorageElements
from dirac_core.model.clock import FakeClock
from dirac_core.plugins import hookimpl, make_plugin_manager
from dirac_plugins_catalog.sql import SQLFileCatalog

LFN = "/demo/user/a/alice/tpc/data.bin"

#: One protocol section of an SE: its keys (``type``, ``host``, ``path``, ``options``, ...).
Protocol = Mapping[str, Any]


def _toml(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{key} = {_toml(item)}" for key, item in value.items()) + "}"
    return json.dumps(value)  # strings, numbers and booleans are written alike in JSON and TOML


def grid(ses: Mapping[str, Sequence[Protocol]], sites: Mapping[str, Sequence[str]] | None = None) -> Config:
    """A configuration with the SEs ``ses`` (name -> protocol sections), all at one site unless
    ``sites`` (site name -> SE names) says otherwise."""
    sites = sites or {"DIRAC.A.ch": list(ses)}
    lines = ['[registry.vos.demo]', 'name = "demo"', "[resources]", f"site_mask = {_toml(list(sites))}"]
    for site, names in sites.items():
        lines += [f'[resources.sites.DIRAC."{site}"]', f'name = "{site}"', f"ses = {_toml(list(names))}"]
    for name, protocols in ses.items():
        lines += [f"[resources.storage_elements.{name}]", f'name = "{name}"']
        for protocol in protocols:
            lines.append(f"[[resources.storage_elements.{name}.protocols]]")
            lines += [f"{key} = {_toml(value)}" for key, value in protocol.items()]
    return load_config("\n".join(lines), format="toml")


class Transfers:
    """A ``dirac_transfer_done`` implementation that remembers its calls."""

    def __init__(self) -> None:
        self.calls: list[tuple[list[str], str, str, bool]] = []

    @hookimpl
    def dirac_transfer_done(self, lfns: list[str], source: str, target: str, third_party: bool) -> None:
        self.calls.append((list(lfns), source, target, third_party))


@contextmanager
def data_manager(database: Database, clock: FakeClock, ses: Mapping[str, Sequence[Protocol]], *,
                 sites: Mapping[str, Sequence[str]] | None = None, local_site: str | None = None,
                 hooks: Sequence[object] = ()) -> Iterator[tuple[DataManager, Transfers]]:
    """A data manager over the SQL catalog on ``database`` and the SEs ``ses``; the SEs are closed at
    the end. ``hooks`` are more hook implementations to register."""
    transfers = Transfers()
    manager = make_plugin_manager((transfers, *hooks))
    storage = StorageElements(grid(ses, sites), local_site=local_site)
    try:
        yield DataManager(catalog=SQLFileCatalog(database, clock=clock), storage=storage,
                          hooks=manager), transfers
    finally:
        storage.close()

"""``remote``: the remote catalog as a configured driver of an interware."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from catalog_http_helpers import LiveCatalog

from dirac_core.client import RemoteCatalog
from dirac_core.config import load_config
from dirac_core.errors import ConfigError, PermissionDenied
from dirac_core.interware import Interware
from dirac_core.plugins import PluginGroup, load_driver
from dirac_core.plugins.catalog import FileEntry


def _config(tmp_path: Path, catalog: str) -> str:
    return f'[database]\nurl = "sqlite:///{tmp_path}/local.sqlite"\n\n[resources.catalogs.Central]\n{catalog}'


def test_remote_is_a_catalog_driver() -> None:
    assert load_driver(PluginGroup.CATALOGS, "remote") is RemoteCatalog


def test_the_section_needs_a_url(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(_config(tmp_path, 'type = "remote"\nname = "Central"\n'), format="toml")
    assert "resources.catalogs.Central.url" in str(info.value)


def test_an_interware_with_its_catalog_on_a_server(live: LiveCatalog, tmp_path: Path) -> None:
    credentials = tmp_path / "credentials.json"
    credentials.write_text(json.dumps({"access_token": live.token("alice"), "refresh_token": None,
                                       "expires_on": int(time.time()) + 3600}))
    text = _config(tmp_path, f'type = "remote"\nname = "Central"\nmaster = true\nurl = "{live.url}"\n'
                             f'credentials_path = "{credentials}"\n')
    with Interware.from_config(load_config(text, format="toml")) as iw:
        assert iw.catalog is not None
        assert isinstance(iw.catalog.members[0].catalog, RemoteCatalog)
        lfn = "/demo/user/alice/from-afar"
        iw.catalog.add_files([FileEntry(lfn=lfn, size=3)]).raise_for_failures()
        # whoever the local view is for, the server acts as the credentials' owner
        view = iw.catalog.acting_as(None)
        assert view.get_files([lfn]).ok[lfn].size == 3
        live.remote("admin", "demo_catalog").catalog.create_directories(["/demo/user/bob"]
                                                                       ).raise_for_failures()
        refused = view.add_files([FileEntry(lfn="/demo/user/bob/x", size=1)])
        assert isinstance(refused.failed["/demo/user/bob/x"], PermissionDenied)
    assert live.iw.catalog is not None
    assert live.iw.catalog.find_files({"Owner": "alice"}) == [lfn]

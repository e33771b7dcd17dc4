"""The grid of the catalog-over-HTTP tests, and the live server they talk to."""

from __future__ import annotations

from typing import Any

import httpx
from wms_helpers import GRID

from dirac_core.client import RemoteInterware
from dirac_core.config import Config, load_config
from dirac_core.interware import Interware

#: The WMS test grid, with a group of catalog administrators (admin) and, unless ``catalog`` is
#: False, an SQL catalog whose new entries are 0o755: another user may read them, not write.
CATALOG = """
[registry.groups.demo_catalog]
name = "demo_catalog"
vo = "demo"
users = ["admin"]
properties = ["NormalUser", "FileCatalogManagement"]

[resources.catalogs.DFC]
type = "sql"
name = "DFC"
master = true
options = {default_mode = "755"}
"""


def catalog_config(url: str, issuer: str, *, catalog: bool = True) -> Config:
    """The grid on the database ``url``, tokens issued by ``issuer``; with or without a catalog."""
    text = GRID + (CATALOG if catalog else CATALOG.split("[resources.catalogs.DFC]", 1)[0])
    return load_config(f'{text}\n[database]\nurl = "{url}"\n\n[auth]\nissuer = "{issuer}"\n', format="toml")


class LiveCatalog:
    """The interware behind a running server, its URL, and remote clients of it (closed at the end)."""

    def __init__(self, iw: Interware, url: str) -> None:
        self.iw = iw
        self.url = url
        self._clients: list[RemoteInterware] = []

    def token(self, user: str, group: str | None = None) -> str:
        """A fresh access token of ``user`` in VO demo."""
        return self.iw.auth.issue(user, vo="demo", group=group)[1].access_token

    def remote(self, user: str, group: str | None = None, **options: Any) -> RemoteInterware:
        """A client acting as ``user`` (in ``group``)."""
        return self.client(self.token(user, group), **options)

    def client(self, token: str | None, **options: Any) -> RemoteInterware:
        """A client sending ``token`` (None: no token)."""
        client = RemoteInterware(self.url, token=token, **options)
        self._clients.append(client)
        return client

    def close(self) -> None:
        """Close every client handed out."""
        for client in self._clients:
            client.close()


class Recording(httpx.BaseTransport):
    """httpx's network transport, recording the path of every request sent."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.paths: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()

"""Small helpers of the remote-client tests: the grid, jobs, the served interware, a recording transport."""

from __future__ import annotations

from typing import Any

import httpx
from wms_helpers import GRID

from dirac_core.auth.tokens import TokenPair
from dirac_core.client import RemoteInterware
from dirac_core.config import Config, load_config
from dirac_core.interware import Interware

#: A job the pilot at :data:`RESOURCE` may run.
JDL = '[Executable = "/bin/echo"; Arguments = "hi"; JobName = "probe";]'
#: A job bound to DIRAC.B.fr: the pilot at :data:`RESOURCE` never gets it.
JDL_ELSEWHERE = '[Executable = "/bin/echo"; JobName = "elsewhere"; Site = "DIRAC.B.fr";]'
#: A pilot's resource description at DIRAC.A.ch.
RESOURCE: dict[str, Any] = {"Site": "DIRAC.A.ch", "CPUTime": 1_000_000}
#: A job id no test creates.
MISSING = 987_654_321


def client_config(url: str, issuer: str) -> Config:
    """The WMS test grid on the database ``url``, tokens issued by ``issuer``."""
    return load_config(f'{GRID}\n[database]\nurl = "{url}"\n\n[auth]\nissuer = "{issuer}"\n',
                       format="toml")


class Recording(httpx.BaseTransport):
    """httpx's network transport, recording ``(method, path)`` of every request sent."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.sent: list[tuple[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.sent.append((request.method, request.url.path))
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


class Served:
    """The interware behind the server, the server's URL, and clients for the test users."""

    def __init__(self, iw: Interware, url: str) -> None:
        self.iw = iw
        self.url = url
        self._clients: list[RemoteInterware] = []

    def tokens(self, user: str, group: str | None = None, minutes: int | None = None) -> TokenPair:
        """A fresh token pair for ``user`` in VO demo."""
        return self.iw.auth.issue(user, vo="demo", group=group, access_minutes=minutes)[1]

    def remote(self, user: str | None, group: str | None = None, **options: Any) -> RemoteInterware:
        """A client acting as ``user`` (None: no token), closed after the test."""
        token = self.tokens(user, group).access_token if user else None
        client = RemoteInterware(self.url, token=token, **options)
        self._clients.append(client)
        return client

    def client(self, **options: Any) -> RemoteInterware:
        """A client built from ``options`` as given (a credentials file, say), closed after the test."""
        client = RemoteInterware(self.url, **options)
        self._clients.append(client)
        return client

    def close(self) -> None:
        """Close every client handed out."""
        for client in self._clients:
            client.close()

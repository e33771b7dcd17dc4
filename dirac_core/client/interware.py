"""``RemoteInterware``: a server reached over HTTP, used like an embedded :class:`~dirac_core.Interware`."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from types import TracebackType

import httpx

from dirac_core.client.catalog import RemoteCatalog
from dirac_core.client.credentials import Credentials
from dirac_core.client.jobs import RemoteWMS
from dirac_core.client.pilots import RemotePilots
from dirac_core.client.proxy_login import ProxyCredentials, proxy_login, read_proxy
from dirac_core.client.requests import RemoteRequests
from dirac_core.client.status import RemoteStatus
from dirac_core.client.transformations import RemoteProductions, RemoteTransformations
from dirac_core.client.transport import RetryPolicy, Transport
from dirac_core.config import Config
from dirac_core.config.converter import structure_config

__all__ = ["RemoteInterware"]


class RemoteInterware:
    """The engines of a dirac-core server at ``url``, with the local engines' methods.

    Authenticate with an access ``token``, a DiracX ``credentials_path``
    (refreshed and rewritten when its access token expires), or an X.509
    ``proxy`` file (a proxy login at the first request and whenever the token
    expires; ``pilot_stamp`` for a pilot's proxy); with none, requests go
    unauthenticated. ``retry``, ``sleep``, ``timeout`` and
    ``transport`` tune the HTTP side (:class:`Transport`). Close it, or use it
    as a context manager.
    """

    def __init__(self, url: str, *, token: str | None = None,
                 credentials_path: str | os.PathLike[str] | None = None,
                 proxy: str | os.PathLike[str] | None = None, pilot_stamp: str | None = None,
                 retry: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep,
                 timeout: float = 30.0, transport: httpx.BaseTransport | None = None) -> None:
        credentials = (Credentials(token=token, path=credentials_path) if proxy is None
                       else _proxy_credentials(url, proxy, pilot_stamp, timeout, transport))
        self.transport = Transport(url, credentials=credentials, retry=retry, sleep=sleep,
                                   timeout=timeout, transport=transport)
        #: the workload management engine's remote twin
        self.wms = RemoteWMS(self.transport)
        #: the pilot registry's remote twin
        self.pilots = RemotePilots(self.transport)
        #: the server's file catalog (calls act as the token's identity)
        self.catalog = RemoteCatalog(self.transport)
        #: the server's request store
        self.requests = RemoteRequests(self.transport)
        #: the server's transformation system, and its productions
        self.transformations = RemoteTransformations(self.transport)
        self.productions = RemoteProductions(self.transport)
        #: the server's resource statuses (reading; setting and releasing with ``status.change``)
        self.status = RemoteStatus(self.transport)

    @property
    def url(self) -> str:
        """The server's base URL."""
        return self.transport.url

    def config(self) -> Config:
        """The server's configuration, without its secrets (``GET /api/config/``): what a pilot
        needs to reach the storage elements itself."""
        answer = self.transport.request("GET", "/api/config/", idempotent=True)
        return structure_config(answer.json(), source=f"{self.url}/api/config/")

    def close(self) -> None:
        """Close the connections."""
        self.transport.close()

    def __enter__(self) -> RemoteInterware:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RemoteInterware({self.url!r})"


def _proxy_credentials(url: str, proxy: str | os.PathLike[str], pilot_stamp: str | None, timeout: float,
                       transport: httpx.BaseTransport | None) -> Credentials:
    credential = read_proxy(proxy)  # a missing or broken file is said at once

    def login() -> dict[str, object]:
        with httpx.Client(base_url=url.rstrip("/"), timeout=timeout, transport=transport) as http:
            return proxy_login(http, credential, pilot_stamp=pilot_stamp)

    return ProxyCredentials(login)

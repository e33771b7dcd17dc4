"""The remote client: a dirac-core (DiracX-compatible) server used through the local engines' API.

``RemoteInterware(url, token=...)`` stands where an embedded
:class:`~dirac_core.Interware` would: ``iw.wms.submit(...)``,
``iw.wms.search(...)`` and the rest take the same arguments and return the
same types, and errors come back as the library's exceptions
(``NotFound``, ``PermissionDenied``, ``JDLError``, ...); ``iw.catalog`` is the server's file
catalog (:class:`RemoteCatalog`, the catalog contracts over ``/api/catalog``). Connection failures
are retried with back-off when a repeat is harmless (see
:mod:`dirac_core.client.transport`); a 4xx never is.
"""

from __future__ import annotations

from dirac_core.client.catalog import RemoteCatalog
from dirac_core.client.credentials import Credentials
from dirac_core.client.errors import RemoteError, ServerUnreachable
from dirac_core.client.interware import RemoteInterware
from dirac_core.client.jobs import RemoteWMS
from dirac_core.client.transport import RetryPolicy, Transport

__all__ = ["Credentials", "RemoteCatalog", "RemoteError", "RemoteInterware", "RemoteWMS", "RetryPolicy",
           "ServerUnreachable", "Transport"]

"""X.509 proxy login settings: ``[auth] x509 = { ca_dir = "...", max_chain = 10 }``."""

from __future__ import annotations

import attrs
from attrs import validators as v

__all__ = ["X509Settings"]


@attrs.frozen(kw_only=True)
class X509Settings:
    """Which CAs the server trusts for proxy logins (``POST /api/auth/proxy``).

    ``ca_dir``: a directory of trusted CA certificates in PEM (any file name:
    ``/etc/grid-security/certificates`` works as IGTF installs it); None turns
    proxy login off. ``max_chain``: the most certificates a presented chain may
    hold (proxies, the user certificate, intermediate CAs). ``challenge_seconds``:
    how long a login challenge may be answered (it is usable once).
    ``reload_seconds``: how often the server reads ``ca_dir`` again (CAs are
    added and renewed while it runs).
    """

    ca_dir: str | None = attrs.field(default=None, validator=v.optional(v.instance_of(str)))
    max_chain: int = attrs.field(default=10, validator=v.and_(v.instance_of(int), v.ge(2), v.le(100)))
    challenge_seconds: int = attrs.field(default=120, validator=v.and_(v.instance_of(int), v.ge(1)))
    reload_seconds: int = attrs.field(default=300, validator=v.and_(v.instance_of(int), v.ge(1)))

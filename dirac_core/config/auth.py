"""How the interware issues its own tokens: issuer, lifetimes, OAuth clients."""

from __future__ import annotations

import attrs
from attrs import validators as v

__all__ = ["AuthSettings"]

_POSITIVE = v.and_(v.instance_of(int), v.ge(1))


@attrs.frozen(kw_only=True)
class AuthSettings:
    """Token issuing settings (DiracX's defaults: access 20 min, refresh 60 min, device flow 10 min).

    ``issuer`` is the ``iss`` of every token and the base of the URLs the
    server publishes; ``client_ids`` are the OAuth clients accepted (DiracX's
    CLI sends ``myDIRACClientID``); ``allowed_redirects`` the redirect URIs of
    the authorization-code flow.
    """

    issuer: str = attrs.field(default="http://127.0.0.1:8000",
                              validator=v.matches_re(r"https?://[^\s/]+(/[^\s]*)?"))
    audience: str = attrs.field(default="dirac", validator=v.instance_of(str))
    access_token_minutes: int = attrs.field(default=20, validator=_POSITIVE)
    refresh_token_minutes: int = attrs.field(default=60, validator=_POSITIVE)
    pilot_token_minutes: int = attrs.field(default=60, validator=_POSITIVE)
    device_flow_seconds: int = attrs.field(default=600, validator=_POSITIVE)
    client_ids: tuple[str, ...] = attrs.field(default=("myDIRACClientID",),
                                              validator=v.deep_iterable(v.instance_of(str)))
    allowed_redirects: tuple[str, ...] = attrs.field(default=(),
                                                     validator=v.deep_iterable(v.instance_of(str)))

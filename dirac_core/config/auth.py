"""How the interware issues its own tokens: issuer, lifetimes, OAuth clients."""

from __future__ import annotations

import attrs
from attrs import validators as v

from dirac_core.config.identity import IdentityProviderSection, RegistryIdentityProvider
from dirac_core.config.x509 import X509Settings

__all__ = ["AuthSettings"]

_POSITIVE = v.and_(v.instance_of(int), v.ge(1))


@attrs.frozen(kw_only=True)
class AuthSettings:
    """Token issuing settings (DiracX's defaults: access 20 min, refresh 60 min, device flow 10 min).

    ``issuer`` is the ``iss`` of every token and the base of the URLs the
    server publishes; ``client_ids`` are the OAuth clients accepted (DiracX's
    CLI sends ``myDIRACClientID``); ``allowed_redirects`` the redirect URIs of
    the authorization-code flow. ``x509``: X.509 proxy login (trusted CAs; off
    unless ``ca_dir`` is set), see :class:`~dirac_core.config.x509.X509Settings`.

    ``key_encryption_secret_file`` (a file holding the secret, readable by the server
    only) or ``key_encryption_secret`` (the secret itself, at least 16 characters):
    the signing keys are stored encrypted with it (see ``docs/security.md``); with
    neither, they are stored in the clear. The secret never shows in the repr.

    ``identity_provider``: who proves who people are (default: the registry's
    passwords; ``type = "oidc"`` for an OpenID provider), see
    :mod:`dirac_core.config.identity`.
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
    key_encryption_secret: str | None = attrs.field(default=None, repr=False,
                                                    validator=v.optional(v.instance_of(str)))
    key_encryption_secret_file: str | None = attrs.field(default=None,
                                                         validator=v.optional(v.instance_of(str)))
    x509: X509Settings = attrs.Factory(X509Settings)
    identity_provider: IdentityProviderSection = attrs.field(
        factory=RegistryIdentityProvider, validator=v.instance_of(IdentityProviderSection))

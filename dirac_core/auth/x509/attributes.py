"""VOMS-like attributes carried in a proxy certificate: a VO, a DIRAC group, and FQANs.

Real VOMS attribute certificates (RFC 5755 ACs signed by a VOMS server, in
the extension 1.3.6.1.4.1.8005.100.100.5) are **not** supported: dirac-core
has no VOMS server to trust. Instead the user states, inside the proxy
certificate they sign, which VO and group they want to act in:

- extension OID :data:`ATTRIBUTES_OID` (``2.25.121647034624978718230396610592916643612``, an OID
  made from a UUID as ITU-T X.667 allows, so it needs no registration), not critical, so that
  other middleware reading the proxy ignores it;
- value, DER::

      DiracProxyAttributes ::= SEQUENCE {
          version  INTEGER (1),
          vo       UTF8String,
          fqans    SEQUENCE OF UTF8String,     -- "/astro/Role=production", primary first
          group    [0] IMPLICIT UTF8String OPTIONAL }

The attributes are bound to the proxy by being inside a certificate the
user's key (or a proxy of theirs) signed: nobody else can attach them to
that user's chain. They are a *request*, not an authorization: the server
grants the group only when its registry has the user in it
(:mod:`dirac_core.auth.x509.login`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import attrs
from cryptography import x509

from dirac_core.auth.x509 import der

__all__ = ["ATTRIBUTES_OID", "ProxyAttributes", "decode_attributes", "encode_attributes"]

#: the extension holding :class:`ProxyAttributes` (documented in the module docstring)
ATTRIBUTES_OID = x509.ObjectIdentifier("2.25.121647034624978718230396610592916643612")
_VERSION = 1
_GROUP_TAG = 0x80  # [0] IMPLICIT, primitive
_NAME = re.compile(r"[A-Za-z0-9_.@+-]{1,64}")
_FQAN = re.compile(r"(/[A-Za-z0-9_.-]+)+(/Role=[A-Za-z0-9_.-]+)?(/Capability=[A-Za-z0-9_.-]+)?")
MAX_FQANS = 32


def _strings(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(values)


def _check_fqans(instance: ProxyAttributes, attribute: attrs.Attribute[tuple[str, ...]],
                 value: tuple[str, ...]) -> None:
    if len(value) > MAX_FQANS:
        raise ValueError(f"at most {MAX_FQANS} FQANs, got {len(value)}")
    for fqan in value:
        if len(fqan) > 256 or not _FQAN.fullmatch(fqan):
            raise ValueError(f"not an FQAN (/vo[/group...][/Role=r]): {fqan!r}")
        if fqan.split("/")[1] != instance.vo:
            raise ValueError(f"FQAN {fqan!r} is not of VO {instance.vo!r}")


@attrs.frozen(kw_only=True)
class ProxyAttributes:
    """What a proxy asks for: ``vo``, maybe a DIRAC ``group``, and VOMS-style ``fqans``.

    The server picks the group: ``group`` if given, else the group of ``vo``
    whose ``voms_role`` is the first FQAN, else the VO's default group.
    Raises ``ValueError`` for a malformed name or an FQAN of another VO.
    """

    vo: str = attrs.field(validator=attrs.validators.matches_re(_NAME))
    group: str | None = attrs.field(default=None,
                                    validator=attrs.validators.optional(attrs.validators.matches_re(_NAME)))
    fqans: tuple[str, ...] = attrs.field(default=(), converter=_strings, validator=_check_fqans)

    @property
    def primary_fqan(self) -> str | None:
        """The first FQAN (VOMS's primary attribute), or None."""
        return self.fqans[0] if self.fqans else None


def encode_attributes(attributes: ProxyAttributes) -> x509.UnrecognizedExtension:
    """The certificate extension carrying ``attributes`` (add it non-critical)."""
    fqans = b"".join(der.tlv(der.UTF8_STRING, f.encode()) for f in attributes.fqans)
    body = (der.encode_integer(_VERSION) + der.tlv(der.UTF8_STRING, attributes.vo.encode())
            + der.tlv(der.SEQUENCE, fqans))
    if attributes.group is not None:
        body += der.tlv(_GROUP_TAG, attributes.group.encode())
    return x509.UnrecognizedExtension(ATTRIBUTES_OID, der.tlv(der.SEQUENCE, body))


def decode_attributes(value: bytes) -> ProxyAttributes:
    """The attributes in an extension value; raises ``ValueError`` when it is malformed."""
    try:
        [(tag, body)] = der.read_all(value)
        if tag != der.SEQUENCE:
            raise ValueError("not a SEQUENCE")
        items = der.read_all(body)
        if len(items) not in (3, 4) or [t for t, _ in items[:3]] != [der.INTEGER, der.UTF8_STRING,
                                                                       der.SEQUENCE]:
            raise ValueError("unexpected fields")
        if der.decode_integer(items[0][1]) != _VERSION:
            raise ValueError("unknown version")
        fqans = []
        for fqan_tag, fqan in der.read_all(items[2][1]):
            if fqan_tag != der.UTF8_STRING:
                raise ValueError("an FQAN is not a UTF8String")
            fqans.append(fqan.decode())
        group = None
        if len(items) == 4:
            if items[3][0] != _GROUP_TAG:
                raise ValueError("unexpected field after the FQANs")
            group = items[3][1].decode()
        return ProxyAttributes(vo=items[1][1].decode(), group=group, fqans=tuple(fqans))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"malformed proxy attributes: {exc}") from None

"""Distinguished names in the slash form grid middleware writes: ``/DC=org/DC=test/CN=Test User``.

The registry keeps users' DNs this way (OpenSSL's ``-nameopt compat`` and
Globus's form), most significant attribute first, one attribute per RDN.
:func:`grid_dn` turns a certificate's name into it; :func:`parse_grid_dn` reads
it back. Proxy subjects extend their issuer's by one ``CN`` RDN
(:func:`extends_by_one_cn`).
"""

from __future__ import annotations

import re

from cryptography import x509
from cryptography.x509.oid import NameOID

__all__ = ["extends_by_one_cn", "grid_dn", "parse_grid_dn"]

_SHORT_NAMES = {NameOID.DOMAIN_COMPONENT: "DC", NameOID.COMMON_NAME: "CN",
                NameOID.ORGANIZATION_NAME: "O", NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
                NameOID.COUNTRY_NAME: "C", NameOID.LOCALITY_NAME: "L",
                NameOID.STATE_OR_PROVINCE_NAME: "ST", NameOID.EMAIL_ADDRESS: "emailAddress",
                NameOID.USER_ID: "UID", NameOID.SERIAL_NUMBER: "serialNumber"}
_OIDS = {short: oid for oid, short in _SHORT_NAMES.items()}
# "/KEY=value" where value runs to the next "/KEY=" (values may hold slashes, e.g. CN=host/name)
_COMPONENT = re.compile(r"/([A-Za-z][A-Za-z0-9]*|[0-9]+(?:\.[0-9]+)+)=")


def grid_dn(name: x509.Name) -> str:
    """``name`` in slash form; an attribute type without a short name is written as its dotted OID.

    Multi-valued RDNs are written ``/A=x+B=y`` as OpenSSL does.
    """
    parts = []
    for rdn in name.rdns:
        values = [f"{_SHORT_NAMES.get(a.oid, a.oid.dotted_string)}={a.value!s}" for a in rdn]
        parts.append("/" + "+".join(values))
    return "".join(parts)


def parse_grid_dn(text: str) -> x509.Name:
    """The :class:`x509.Name` written ``text`` in slash form (one attribute per RDN).

    Raises ``ValueError`` for text that does not start with ``/KEY=`` or names an unknown key.
    """
    starts = list(_COMPONENT.finditer(text))
    if not starts or starts[0].start() != 0:
        raise ValueError(f"not a slash-form DN: {text!r}")
    attributes = []
    for i, match in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        key, value = match.group(1), text[match.end():end]
        oid = _OIDS.get(key) or (x509.ObjectIdentifier(key) if key[0].isdigit() else None)
        if oid is None:
            raise ValueError(f"unknown attribute {key!r} in DN {text!r}")
        attributes.append(x509.RelativeDistinguishedName([x509.NameAttribute(oid, value)]))
    return x509.Name(attributes)


def extends_by_one_cn(subject: x509.Name, issuer: x509.Name) -> bool:
    """True when ``subject`` is ``issuer`` followed by exactly one single-valued ``CN`` RDN
    (RFC 3820 section 3.4: how a proxy's subject is formed)."""
    subject_rdns, issuer_rdns = list(subject.rdns), list(issuer.rdns)
    if len(subject_rdns) != len(issuer_rdns) + 1 or subject_rdns[:-1] != issuer_rdns:
        return False
    last = list(subject_rdns[-1])
    return len(last) == 1 and last[0].oid == NameOID.COMMON_NAME

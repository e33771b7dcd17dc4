"""Verifying a presented certificate chain: proxies, the user's certificate, CAs, a trusted CA.

A chain is given leaf first (the order of a proxy file and of a TLS
handshake): ``proxy_n, ..., proxy_1, user certificate, [intermediate CAs],
[the CA itself]``, and must end at a CA of the :class:`TrustStore`. What is
checked, in this order (the first failure raises :class:`InvalidProxy`, its
``reason`` a :class:`ProxyProblem`):

1. form: at least one and at most ``max_chain`` certificates, no critical
   extension we do not understand (``malformed``, ``too_long``, ``unsupported``);
2. roles: leading certificates with ProxyCertInfo are proxies; the next one
   is the end-entity (user) certificate, which must not be a CA
   (``not_end_entity``); every certificate after it must be a CA (otherwise a
   certificate was signed by a non-CA without being a proxy: ``not_a_proxy``);
   with ``require_proxy`` the leaf must be a proxy (``not_a_proxy``);
3. each certificate is issued by the next: the issuer name is the next one's
   subject (``wrong_issuer``) and the signature verifies with its key
   (``bad_signature``);
4. proxy rules (RFC 3820): the subject extends the issuer's by exactly one
   ``CN`` (``not_a_proxy``), the policy is "inherit all" (``unsupported``), no
   ``cA=TRUE`` and no alternative names (``not_a_proxy``), the issuer may sign
   (key usage ``digitalSignature`` if it has key usage: ``key_usage``), and no
   proxy has more proxies below it than its path-length constraint
   (``path_length``); CAs need ``keyCertSign`` and respect their own path length;
5. the top certificate is a trusted CA, or is signed by one (``untrusted_ca``);
6. every certificate, the trusted CA included, is valid at the clock's time
   (``expired``, ``not_yet_valid``).
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Sequence
from datetime import datetime

import attrs
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.x509.oid import ExtensionOID

from dirac_core.auth.x509 import der
from dirac_core.auth.x509.attributes import ATTRIBUTES_OID, ProxyAttributes, decode_attributes
from dirac_core.auth.x509.names import extends_by_one_cn, grid_dn
from dirac_core.auth.x509.proxy import INHERIT_ALL, PROXY_CERT_INFO_OID
from dirac_core.auth.x509.trust import TrustStore, is_ca
from dirac_core.errors import InvalidProxy
from dirac_core.model.clock import Clock

__all__ = ["ProxyProblem", "VerifiedChain", "describe_chain", "proxy_path_length", "verify_chain"]

_UNDERSTOOD = frozenset({ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.KEY_USAGE,
                         ExtensionOID.EXTENDED_KEY_USAGE, ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
                         PROXY_CERT_INFO_OID})


class ProxyProblem(enum.StrEnum):
    """Why a chain was refused (``InvalidProxy.reason``)."""

    MALFORMED = "malformed"
    TOO_LONG = "too_long"
    UNSUPPORTED = "unsupported"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    WRONG_ISSUER = "wrong_issuer"
    BAD_SIGNATURE = "bad_signature"
    PATH_LENGTH = "path_length"
    NOT_A_PROXY = "not_a_proxy"
    NOT_END_ENTITY = "not_end_entity"
    KEY_USAGE = "key_usage"
    UNTRUSTED_CA = "untrusted_ca"


@attrs.frozen(kw_only=True)
class VerifiedChain:
    """What a verified chain proves.

    ``dn``: the user (end-entity) certificate's subject in slash form; ``ca_dn``:
    its issuer; ``attributes``: those of the proxy nearest the leaf that has
    some (None: no proxy has any); ``not_after``: when the first certificate of
    the chain (trusted CA included) expires; ``proxy_depth``: how many proxies
    precede the user certificate; ``leaf``: the first certificate, whose key
    the presenter must prove to hold.
    """

    dn: str
    ca_dn: str
    attributes: ProxyAttributes | None
    not_after: datetime
    proxy_depth: int
    leaf: x509.Certificate


def _fail(reason: ProxyProblem, message: str, cert: x509.Certificate | None = None) -> InvalidProxy:
    subject = _name(cert) if cert is not None else None
    return InvalidProxy(f"invalid certificate chain ({reason}): {message}", reason=reason, subject=subject)


def _name(cert: x509.Certificate) -> str:
    return grid_dn(cert.subject) or "(empty subject)"


def _extension(cert: x509.Certificate, oid: x509.ObjectIdentifier
               ) -> x509.Extension[x509.ExtensionType] | None:
    try:
        return cert.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return None


def proxy_path_length(cert: x509.Certificate) -> tuple[bool, int | None]:
    """(is a proxy, its path-length constraint) from the ProxyCertInfo extension.

    Raises :class:`InvalidProxy` (``malformed`` or ``unsupported``) for an
    unreadable extension or a policy other than "inherit all".
    """
    found = _extension(cert, PROXY_CERT_INFO_OID)
    if found is None:
        return False, None
    value = found.value
    raw = value.value if isinstance(value, x509.UnrecognizedExtension) else b""
    try:
        [(tag, body)] = der.read_all(raw)
        items = der.read_all(body) if tag == der.SEQUENCE else []
        length = None
        if items and items[0][0] == der.INTEGER:
            length = der.decode_integer(items[0][1])
            items = items[1:]
        if len(items) != 1 or items[0][0] != der.SEQUENCE:
            raise ValueError("no ProxyPolicy")
        policy = der.read_all(items[0][1])
        if not policy or policy[0][0] != der.OID or len(policy) > 2:
            raise ValueError("bad ProxyPolicy")
        language = der.decode_oid(policy[0][1])
    except ValueError as exc:
        raise _fail(ProxyProblem.MALFORMED, f"unreadable ProxyCertInfo: {exc}", cert) from None
    if language != INHERIT_ALL:
        raise _fail(ProxyProblem.UNSUPPORTED, f"proxy policy {language} (only inherit-all "
                    f"{INHERIT_ALL} is accepted)", cert)
    if not found.critical:
        raise _fail(ProxyProblem.MALFORMED, "ProxyCertInfo must be critical", cert)
    return True, length


def _check_form(certs: Sequence[x509.Certificate], max_chain: int) -> None:
    if not certs:
        raise _fail(ProxyProblem.MALFORMED, "no certificate")
    if len(certs) > max_chain:
        raise _fail(ProxyProblem.TOO_LONG, f"{len(certs)} certificates, at most {max_chain} accepted")
    for cert in certs:
        try:
            extensions = list(cert.extensions)
        except ValueError as exc:  # duplicate or unparsable extension
            raise _fail(ProxyProblem.MALFORMED, f"bad extensions: {exc}", cert) from None
        for ext in extensions:
            if ext.critical and ext.oid not in _UNDERSTOOD:
                raise _fail(ProxyProblem.UNSUPPORTED, f"critical extension {ext.oid.dotted_string} is not "
                            "understood", cert)


def _check_signed(child: x509.Certificate, parent: x509.Certificate) -> None:
    if child.issuer != parent.subject:
        raise _fail(ProxyProblem.WRONG_ISSUER, f"{_name(child)} was issued by {grid_dn(child.issuer)}, "
                    f"not by the next certificate {_name(parent)}", child)
    try:
        child.verify_directly_issued_by(parent)
    except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise _fail(ProxyProblem.BAD_SIGNATURE, f"the signature of {_name(child)} does not verify with "
                    f"the key of {_name(parent)} ({type(exc).__name__})", child) from None


def _can_sign(cert: x509.Certificate, *, certificates: bool) -> bool:
    found = _extension(cert, ExtensionOID.KEY_USAGE)
    if found is None:
        return True
    usage = found.value
    assert isinstance(usage, x509.KeyUsage)
    return usage.key_cert_sign if certificates else usage.digital_signature


def _check_proxy(proxy: x509.Certificate, issuer: x509.Certificate, below: int) -> None:
    """RFC 3820's rules for ``proxy``, issued by ``issuer``, with ``below`` proxies under it."""
    if not extends_by_one_cn(proxy.subject, issuer.subject):
        raise _fail(ProxyProblem.NOT_A_PROXY, f"the subject of {_name(proxy)} does not extend its issuer's "
                    f"{_name(issuer)} by exactly one CN", proxy)
    if is_ca(proxy):
        raise _fail(ProxyProblem.NOT_A_PROXY, f"{_name(proxy)} is a proxy with cA=TRUE", proxy)
    for oid in (ExtensionOID.SUBJECT_ALTERNATIVE_NAME, ExtensionOID.ISSUER_ALTERNATIVE_NAME):
        if _extension(proxy, oid) is not None:
            raise _fail(ProxyProblem.NOT_A_PROXY, f"{_name(proxy)} is a proxy with an alternative name",
                        proxy)
    if not _can_sign(issuer, certificates=False):
        raise _fail(ProxyProblem.KEY_USAGE, f"{_name(issuer)} has no digitalSignature key usage: it may not "
                    "issue proxies", issuer)
    _, limit = proxy_path_length(proxy)
    if limit is not None and below > limit:
        raise _fail(ProxyProblem.PATH_LENGTH, f"{_name(proxy)} allows {limit} proxies below it, "
                    f"the chain has {below}", proxy)


def _check_ca(ca: x509.Certificate, intermediates_below: int) -> None:
    if not _can_sign(ca, certificates=True):
        raise _fail(ProxyProblem.KEY_USAGE, f"CA {_name(ca)} has no keyCertSign key usage", ca)
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    if constraints.path_length is not None and intermediates_below > constraints.path_length:
        raise _fail(ProxyProblem.PATH_LENGTH, f"CA {_name(ca)} allows {constraints.path_length} CAs below "
                    f"it, the chain has {intermediates_below}", ca)


def _anchor(top: x509.Certificate, trust: TrustStore) -> x509.Certificate | None:
    """The trusted CA that signed ``top`` (None when ``top`` is itself trusted)."""
    if trust.contains(top):
        return None
    candidates = trust.issuers_of(top)
    if not candidates:
        raise _fail(ProxyProblem.UNTRUSTED_CA, f"{_name(top)} was issued by {grid_dn(top.issuer)}, "
                    "which is not a trusted CA", top)
    for ca in candidates:
        try:
            top.verify_directly_issued_by(ca)
        except (InvalidSignature, ValueError, TypeError, UnsupportedAlgorithm):
            continue
        return ca
    raise _fail(ProxyProblem.UNTRUSTED_CA, f"{_name(top)} names {grid_dn(top.issuer)} as issuer, but no "
                "trusted CA of that name signed it", top)


def _check_times(certs: Sequence[x509.Certificate], now: datetime) -> None:
    for cert in certs:
        if now < cert.not_valid_before_utc:
            raise _fail(ProxyProblem.NOT_YET_VALID, f"{_name(cert)} is valid from "
                        f"{cert.not_valid_before_utc.isoformat()}, it is {now.isoformat()}", cert)
        if now > cert.not_valid_after_utc:
            raise _fail(ProxyProblem.EXPIRED, f"{_name(cert)} expired at "
                        f"{cert.not_valid_after_utc.isoformat()}, it is {now.isoformat()}", cert)


def _attributes(proxies: Sequence[x509.Certificate]) -> ProxyAttributes | None:
    for proxy in proxies:  # the nearest to the leaf wins: a later proxy may narrow the request
        found = _extension(proxy, ATTRIBUTES_OID)
        if found is None:
            continue
        value = found.value
        try:
            return decode_attributes(value.value if isinstance(value, x509.UnrecognizedExtension) else b"")
        except ValueError as exc:
            raise _fail(ProxyProblem.MALFORMED, str(exc), proxy) from None
    return None


def describe_chain(certificates: Sequence[x509.Certificate]) -> tuple[int, ProxyAttributes | None]:
    """How many proxies lead ``certificates`` and the attributes they carry, *without* verifying
    anything (to show a proxy file to its owner). Raises :class:`InvalidProxy` when unreadable."""
    depth = 0
    while depth < len(certificates) and proxy_path_length(certificates[depth])[0]:
        depth += 1
    return depth, _attributes(certificates[:depth])


def verify_chain(certificates: Sequence[x509.Certificate], trust: TrustStore, *, clock: Clock,
                 max_chain: int = 10, require_proxy: bool = True) -> VerifiedChain:
    """Verify ``certificates`` (leaf first) against ``trust`` at ``clock``'s time (module doc).

    Returns what the chain proves; raises :class:`InvalidProxy` with the
    first problem found.
    """
    certs = list(certificates)
    _check_form(certs, max_chain)
    depth, _ = describe_chain(certs)
    if depth == len(certs):
        raise _fail(ProxyProblem.MALFORMED, "the chain holds proxies but no user certificate", certs[-1])
    if require_proxy and depth == 0:
        raise _fail(ProxyProblem.NOT_A_PROXY, f"{_name(certs[0])} is not an RFC 3820 proxy "
                    "(no ProxyCertInfo extension)", certs[0])
    end_entity = certs[depth]
    if is_ca(end_entity):
        raise _fail(ProxyProblem.NOT_END_ENTITY, f"{_name(end_entity)} is a CA certificate where the user's "
                    "(end-entity) certificate should be", end_entity)
    cas = certs[depth + 1:]
    for child, parent in zip(certs[depth:], cas, strict=False):
        if not is_ca(parent):
            raise _fail(ProxyProblem.NOT_A_PROXY, f"{_name(child)} is signed by {_name(parent)}, which is "
                        "not a CA, yet it is not an RFC 3820 proxy", child)
    for child, parent in itertools.pairwise(certs):
        _check_signed(child, parent)
    for index in range(depth):
        _check_proxy(certs[index], certs[index + 1], below=index)
    if not _can_sign(certs[0], certificates=False):
        raise _fail(ProxyProblem.KEY_USAGE, f"{_name(certs[0])} may not sign (no digitalSignature)", certs[0])
    for index, ca in enumerate(cas):
        _check_ca(ca, intermediates_below=index)
    anchor = _anchor(certs[-1], trust)
    if anchor is not None:
        _check_ca(anchor, intermediates_below=len(cas))
    checked = [*certs, *([anchor] if anchor is not None else [])]
    now = clock.now()
    _check_times(checked, now)
    return VerifiedChain(dn=grid_dn(end_entity.subject), ca_dn=grid_dn(end_entity.issuer),
                         attributes=describe_chain(certs)[1],
                         not_after=min(c.not_valid_after_utc for c in checked),
                         proxy_depth=depth, leaf=certs[0])

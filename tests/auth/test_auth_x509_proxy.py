"""RFC 3820 proxies made with cryptography: shape, lifetime, file format, attributes, DER, names."""

from __future__ import annotations

import datetime as dt
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from x509_helpers import credential, real_clock

from dirac_core.auth.x509 import (
    ATTRIBUTES_OID,
    PROXY_CERT_INFO_OID,
    ProxyAttributes,
    create_proxy,
    der,
    grid_dn,
    load_credential,
    parse_grid_dn,
)
from dirac_core.auth.x509.attributes import decode_attributes, encode_attributes
from dirac_core.auth.x509.proxy import BACKDATE, proxy_cert_info
from dirac_core.auth.x509.verify import proxy_path_length
from dirac_core.testing.pki import TestCA

ATTRS = ProxyAttributes(vo="astro", group="astro_prod", fqans=("/astro/Role=production", "/astro"))


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("pki"))


def test_a_proxy_extends_the_subject_and_carries_proxy_cert_info(ca: TestCA, tmp_path: Path) -> None:
    user = credential(ca.user_cert("Alice Proxy", stem="alice"))
    clock = real_clock()
    proxy = create_proxy(user, clock=clock, lifetime=dt.timedelta(hours=2), key_size=1024, path_length=3)
    rdns = list(proxy.cert.subject.rdns)
    assert rdns[:-1] == list(user.cert.subject.rdns)
    assert rdns[-1] == x509.RelativeDistinguishedName(
        [x509.NameAttribute(NameOID.COMMON_NAME, str(proxy.cert.serial_number))])
    assert proxy.cert.issuer == user.cert.subject
    info = proxy.cert.extensions.get_extension_for_oid(PROXY_CERT_INFO_OID)
    assert info.critical
    assert proxy_path_length(proxy.cert) == (True, 3)
    assert proxy.key.key_size == 1024  # type: ignore[union-attr]
    assert proxy.cert.not_valid_before_utc == clock.now() - BACKDATE
    assert proxy.cert.not_valid_after_utc == clock.now() + dt.timedelta(hours=2)
    assert proxy.chain == (user.cert,)
    proxy.cert.verify_directly_issued_by(user.cert)  # signed by the user's key


def test_a_proxy_never_outlives_its_issuer(ca: TestCA) -> None:
    user = credential(ca.user_cert("Short Lived", stem="short"))
    clock = real_clock()
    first = create_proxy(user, clock=clock, lifetime=dt.timedelta(hours=1), key_size=1024)
    second = create_proxy(first, clock=clock, lifetime=dt.timedelta(days=30), key_size=1024)
    assert second.cert.not_valid_after_utc == first.cert.not_valid_after_utc
    assert second.chain == (first.cert, user.cert)
    assert second.not_after == first.not_after
    long = create_proxy(user, clock=clock, lifetime=dt.timedelta(days=365), key_size=1024)
    assert long.cert.not_valid_after_utc == user.cert.not_valid_after_utc
    with pytest.raises(ValueError, match="positive lifetime"):
        create_proxy(user, clock=clock, lifetime=dt.timedelta(0))
    with pytest.raises(ValueError, match="too small"):
        create_proxy(user, clock=clock, key_size=512)
    clock.set(user.cert.not_valid_after_utc + dt.timedelta(seconds=1))
    with pytest.raises(ValueError, match="expired"):
        create_proxy(user, clock=clock)


def test_the_proxy_file_round_trips_and_is_private(ca: TestCA, tmp_path: Path) -> None:
    user = credential(ca.user_cert("File User", stem="file"))
    # 2048 bits: OpenSSL's default security level refuses smaller keys in TLS
    proxy = create_proxy(create_proxy(user, clock=real_clock()), clock=real_clock(), attributes=ATTRS)
    path = proxy.write(tmp_path / "x509up_u1000")
    assert path.stat().st_mode & 0o777 == 0o600
    text = path.read_bytes()
    # the usual order: proxy certificate, its key, then the chain
    assert text.index(b"BEGIN CERTIFICATE") < text.index(b"PRIVATE KEY") < text.rindex(b"BEGIN CERTIFICATE")
    assert text.count(b"BEGIN CERTIFICATE") == 3
    back = load_credential(text)
    assert back.certificates == proxy.certificates
    assert b"PRIVATE KEY" not in back.chain_pem() and back.chain_pem().count(b"BEGIN CERTIFICATE") == 3
    # Python's ssl (what the ARC driver's tls_context does with a proxy file) loads it as is
    ssl.create_default_context().load_cert_chain(str(path))


def test_loading_refuses_a_key_of_another_certificate(ca: TestCA) -> None:
    one, two = ca.user_cert("One", stem="one"), ca.user_cert("Two", stem="two")
    with pytest.raises(ValueError, match="does not belong"):
        load_credential(one.cert.read_bytes(), two.key.read_bytes())
    with pytest.raises(ValueError, match="no private key"):
        load_credential(one.cert.read_bytes())
    with pytest.raises(ValueError, match="no certificate"):
        load_credential(b"nothing here", one.key.read_bytes())


@pytest.mark.skipif(shutil.which("openssl") is None, reason="no openssl command")
def test_openssl_verifies_our_proxies_as_rfc3820(ca: TestCA, tmp_path: Path) -> None:
    user = credential(ca.user_cert("OpenSSL User", stem="ossl"))
    proxy = create_proxy(create_proxy(user, clock=real_clock(), key_size=1024, path_length=1),
                         clock=real_clock(), key_size=1024, attributes=ATTRS)
    leaf, chain = tmp_path / "leaf.pem", tmp_path / "chain.pem"
    leaf.write_bytes(proxy.certificates[0].public_bytes(Encoding.PEM))
    chain.write_bytes(b"".join(c.public_bytes(Encoding.PEM) for c in proxy.chain))
    command = ["openssl", "verify", "-CAfile", str(ca.files.cert), "-untrusted", str(chain), str(leaf)]
    refused = subprocess.run(command, capture_output=True, text=True, check=False)
    assert refused.returncode != 0  # without the flag OpenSSL refuses proxies: they are real ones
    accepted = subprocess.run([*command[:2], "-allow_proxy_certs", *command[2:]], capture_output=True,
                              text=True, check=False)
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    text = subprocess.run(["openssl", "x509", "-noout", "-text", "-in", str(leaf)], capture_output=True,
                          text=True, check=True).stdout
    assert "Proxy Certificate Information: critical" in text and "Inherit all" in text


def test_attributes_round_trip_through_the_certificate(ca: TestCA) -> None:
    user = credential(ca.user_cert("Attr User", stem="attr"))
    proxy = create_proxy(user, clock=real_clock(), key_size=1024, attributes=ATTRS)
    ext = proxy.cert.extensions.get_extension_for_oid(ATTRIBUTES_OID)
    assert not ext.critical
    assert isinstance(ext.value, x509.UnrecognizedExtension)
    assert decode_attributes(ext.value.value) == ATTRS
    bare = ProxyAttributes(vo="astro")
    assert decode_attributes(encode_attributes(bare).value) == bare
    assert ATTRS.primary_fqan == "/astro/Role=production" and bare.primary_fqan is None


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"vo": "bad vo"}, "vo"),
    ({"vo": "astro", "fqans": ("/other/Role=x",)}, "not of VO"),
    ({"vo": "astro", "fqans": ("astro/Role=x",)}, "not an FQAN"),
    ({"vo": "astro", "group": "g/h"}, "group"),
])
def test_malformed_attributes_are_refused(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ProxyAttributes(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("raw", [
    b"", b"\x30", b"\x30\x03\x02\x01\x01",  # empty, truncated, too few fields
    der.tlv(der.SEQUENCE, der.encode_integer(2) + der.tlv(der.UTF8_STRING, b"astro")
            + der.tlv(der.SEQUENCE, b"")),  # an unknown version
    der.tlv(der.SEQUENCE, der.encode_integer(1) + der.tlv(der.UTF8_STRING, b"astro")
            + der.tlv(der.SEQUENCE, der.encode_integer(5))),  # an FQAN that is not a string
    der.tlv(der.SEQUENCE, der.encode_integer(1) + der.tlv(der.UTF8_STRING, b"\xff")
            + der.tlv(der.SEQUENCE, b"")),  # not UTF-8
    b"\x30\x81\x03\x02\x01\x01",  # a long-form length that should be short
])
def test_malformed_attribute_values_raise_value_error(raw: bytes) -> None:
    with pytest.raises(ValueError, match="malformed proxy attributes"):
        decode_attributes(raw)


def test_der_oids_round_trip() -> None:
    for dotted in ("1.3.6.1.5.5.7.1.14", "1.3.6.1.5.5.7.21.1", ATTRIBUTES_OID.dotted_string, "2.999.1"):
        [(tag, content)] = der.read_all(der.encode_oid(dotted))
        assert tag == der.OID and der.decode_oid(content) == dotted
    assert der.encode_oid("1.3.6.1.5.5.7.21.1") == bytes.fromhex("06082b06010505071501")
    assert proxy_cert_info(0).value == bytes.fromhex("300f020100300a06082b06010505071501")
    with pytest.raises(ValueError, match="shortest form"):
        der.decode_oid(b"\x80\x01")


def test_grid_dns_round_trip() -> None:
    dn = "/DC=org/DC=dirac-test/O=Grid/OU=Physics/CN=Jane Doe/CN=host/with/slash"
    name = parse_grid_dn(dn)
    assert grid_dn(name) == dn
    assert [a.value for a in name][-1] == "host/with/slash"
    with pytest.raises(ValueError, match="not a slash-form DN"):
        parse_grid_dn("CN=Jane")
    with pytest.raises(ValueError, match="unknown attribute"):
        parse_grid_dn("/XYZ=1")
    odd = x509.Name([x509.NameAttribute(x509.ObjectIdentifier("1.2.3.4"), "v")])
    assert grid_dn(odd) == "/1.2.3.4=v"

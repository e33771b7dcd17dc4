"""Verifying presented chains: what passes, and each way a chain is refused, with its reason."""

from __future__ import annotations

import datetime as dt
import pickle
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from x509_helpers import ca_credential, credential, forge, real_clock, write_ca_dir

from dirac_core.auth.x509 import (
    ProxyAttributes,
    ProxyCredential,
    ProxyProblem,
    TrustStore,
    create_proxy,
    verify_chain,
)
from dirac_core.auth.x509.proxy import proxy_cert_info
from dirac_core.errors import InvalidProxy, NotAuthenticated
from dirac_core.model.clock import FakeClock
from dirac_core.testing.pki import TestCA

ATTRS = ProxyAttributes(vo="demo", group="demo_user")


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("other"), dn_prefix=("org", "elsewhere"))


@pytest.fixture(scope="module")
def trust(ca: TestCA, tmp_path_factory: pytest.TempPathFactory) -> TrustStore:
    return TrustStore.from_directory(write_ca_dir(tmp_path_factory.mktemp("cas"), ca))


@pytest.fixture(scope="module")
def alice(ca: TestCA) -> ProxyCredential:
    return credential(ca.user_cert("Alice", stem="alice"))


def _refused(certs: tuple[x509.Certificate, ...], trust: TrustStore, reason: ProxyProblem, *,
             clock: FakeClock | None = None, **options: object) -> InvalidProxy:
    with pytest.raises(InvalidProxy) as info:
        verify_chain(certs, trust, clock=clock or real_clock(), **options)  # type: ignore[arg-type]
    assert info.value.reason == reason, str(info.value)  # type: ignore[attr-defined]
    assert f"({reason})" in str(info.value)
    return info.value


def test_a_proxy_of_a_proxy_verifies(ca: TestCA, alice: ProxyCredential, trust: TrustStore) -> None:
    clock = real_clock()
    first = create_proxy(alice, clock=clock, key_size=1024, attributes=ATTRS)
    narrower = ProxyAttributes(vo="demo", fqans=("/demo/Role=shared",))
    second = create_proxy(first, clock=clock, key_size=1024, lifetime=dt.timedelta(hours=1),
                          attributes=narrower)
    third = create_proxy(second, clock=clock, key_size=1024)
    found = verify_chain(third.certificates, trust, clock=clock)
    assert found.dn == alice_dn(ca) == "/DC=org/DC=dirac-test/CN=Alice"
    assert found.ca_dn == ca.dn
    assert found.attributes == narrower  # the proxy nearest the leaf that carries some
    assert found.proxy_depth == 3
    assert found.not_after == second.cert.not_valid_after_utc
    assert found.leaf == third.cert
    # the CA sent along at the end is accepted too
    assert verify_chain((*first.certificates, ca.cert), trust, clock=clock).attributes == ATTRS
    # a plain user certificate when the caller allows it
    plain = verify_chain(alice.certificates, trust, clock=clock, require_proxy=False)
    assert (plain.proxy_depth, plain.attributes) == (0, None)


def alice_dn(ca: TestCA) -> str:
    return ca.dn.replace("CN=DIRAC Test CA", "CN=Alice")


def test_the_trust_store_reads_a_ca_directory(ca: TestCA, other_ca: TestCA, tmp_path: Path) -> None:
    directory = write_ca_dir(tmp_path / "certs", ca, other_ca)
    (directory / "copy.0").write_bytes(ca.pem)  # <hash>.0 beside <name>.pem: the same CA
    (directory / "user.pem").write_bytes(other_ca.user_cert("Not A CA", stem="nota").cert.read_bytes())
    store = TrustStore.from_directory(directory)
    assert len(store) == 2
    assert store.contains(ca.cert) and store.contains(other_ca.cert)


def test_an_expired_proxy_is_refused(alice: ProxyCredential, trust: TrustStore) -> None:
    clock = real_clock()
    proxy = create_proxy(alice, clock=clock, key_size=1024, lifetime=dt.timedelta(hours=1))
    verify_chain(proxy.certificates, trust, clock=clock)
    clock.advance(dt.timedelta(hours=1, seconds=1))
    error = _refused(proxy.certificates, trust, ProxyProblem.EXPIRED, clock=clock)
    assert error.subject.startswith("/DC=org/DC=dirac-test/CN=Alice/CN=")  # type: ignore[attr-defined]
    assert isinstance(error, NotAuthenticated)


def test_a_proxy_not_yet_valid_is_refused(alice: ProxyCredential, trust: TrustStore) -> None:
    later = real_clock()
    later.advance(dt.timedelta(hours=2))
    proxy = create_proxy(alice, clock=later, key_size=1024)
    _refused(proxy.certificates, trust, ProxyProblem.NOT_YET_VALID)  # verified at the real time


def test_an_untrusted_ca_is_refused(other_ca: TestCA, trust: TrustStore, tmp_path: Path) -> None:
    stranger = credential(other_ca.user_cert("Stranger", stem="stranger"))
    proxy = create_proxy(stranger, clock=real_clock(), key_size=1024)
    error = _refused(proxy.certificates, trust, ProxyProblem.UNTRUSTED_CA)
    assert "not a trusted CA" in str(error)
    _refused((*proxy.certificates, other_ca.cert), trust, ProxyProblem.UNTRUSTED_CA)
    # a CA with the trusted CA's very name but another key
    impostor = TestCA(tmp_path / "impostor")
    fake = credential(impostor.user_cert("Alice", stem="fake"))
    error = _refused(create_proxy(fake, clock=real_clock(), key_size=1024).certificates, trust,
                     ProxyProblem.UNTRUSTED_CA)
    assert "no trusted CA of that name signed it" in str(error)


def test_a_chain_with_the_wrong_issuer_is_refused(ca: TestCA, other_ca: TestCA, alice: ProxyCredential,
                                                  trust: TrustStore) -> None:
    bob = credential(ca.user_cert("Bob", stem="bob"))
    bobs = create_proxy(bob, clock=real_clock(), key_size=1024)
    _refused((bobs.cert, alice.cert), trust, ProxyProblem.WRONG_ISSUER)  # bob's proxy, alice's cert
    stranger = credential(other_ca.user_cert("Stranger2", stem="stranger2"))
    _refused((stranger.cert, ca.cert), trust, ProxyProblem.WRONG_ISSUER, require_proxy=False)


def test_a_bad_signature_is_refused(alice: ProxyCredential, trust: TrustStore) -> None:
    proxy = create_proxy(alice, clock=real_clock(), key_size=1024)
    der = bytearray(proxy.cert.public_bytes(Encoding.DER))
    der[-1] ^= 0x01  # the last byte is the signature's
    tampered = x509.load_der_x509_certificate(bytes(der))
    _refused((tampered, alice.cert), trust, ProxyProblem.BAD_SIGNATURE)
    # the right issuer name, someone else's key
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    forged = forge(alice, extensions=[(proxy_cert_info(), True)], signer=other_key)
    _refused(forged.certificates, trust, ProxyProblem.BAD_SIGNATURE)


def test_the_path_length_is_respected(alice: ProxyCredential, trust: TrustStore) -> None:
    clock = real_clock()
    last = create_proxy(alice, clock=clock, key_size=1024, path_length=0)
    verify_chain(last.certificates, trust, clock=clock)
    below = create_proxy(last, clock=clock, key_size=1024)
    error = _refused(below.certificates, trust, ProxyProblem.PATH_LENGTH)
    assert "allows 0 proxies below it, the chain has 1" in str(error)
    one = create_proxy(alice, clock=clock, key_size=1024, path_length=1)
    two = create_proxy(create_proxy(one, clock=clock, key_size=1024), clock=clock, key_size=1024)
    verify_chain(two.chain, trust, clock=clock)
    _refused(two.certificates, trust, ProxyProblem.PATH_LENGTH)


def _cn(value: str) -> x509.RelativeDistinguishedName:
    return x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, value)])


def test_a_proxy_subject_must_extend_its_issuer_by_one_cn(alice: ProxyCredential, trust: TrustStore) -> None:
    base = list(alice.cert.subject.rdns)
    pci = [(proxy_cert_info(), True)]
    two_cns = forge(alice, subject=x509.Name([*base, _cn("1"), _cn("2")]), extensions=pci)
    _refused(two_cns.certificates, trust, ProxyProblem.NOT_A_PROXY)
    organisation = x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "1")])
    _refused(forge(alice, subject=x509.Name([*base, organisation]), extensions=pci).certificates,
             trust, ProxyProblem.NOT_A_PROXY)
    elsewhere = x509.Name([_cn("Someone Else"), _cn("123")])
    error = _refused(forge(alice, subject=elsewhere, extensions=pci).certificates, trust,
                     ProxyProblem.NOT_A_PROXY)
    assert "does not extend" in str(error)


def test_a_ca_may_not_stand_where_the_user_certificate_should(ca: TestCA, trust: TrustStore) -> None:
    by_the_ca = create_proxy(ca_credential(ca), clock=real_clock(), key_size=1024)
    error = _refused(by_the_ca.certificates, trust, ProxyProblem.NOT_END_ENTITY)
    assert "is a CA certificate" in str(error)


def test_what_is_not_an_rfc3820_proxy_is_refused(alice: ProxyCredential, trust: TrustStore) -> None:
    _refused(alice.certificates, trust, ProxyProblem.NOT_A_PROXY)  # a user certificate alone
    legacy = forge(alice)  # a Globus legacy proxy: signed by the user, no ProxyCertInfo
    error = _refused(legacy.certificates, trust, ProxyProblem.NOT_A_PROXY, require_proxy=False)
    assert "which is not a CA" in str(error)
    pci = [(proxy_cert_info(), True)]
    with_ca_flag = forge(alice, extensions=[*pci, (x509.BasicConstraints(ca=True, path_length=None), True)])
    _refused(with_ca_flag.certificates, trust, ProxyProblem.NOT_A_PROXY)
    with_san = forge(alice, extensions=[*pci, (x509.SubjectAlternativeName([x509.DNSName("x.org")]), False)])
    _refused(with_san.certificates, trust, ProxyProblem.NOT_A_PROXY)


def test_policies_and_extensions_we_do_not_understand_are_refused(alice: ProxyCredential,
                                                                   trust: TrustStore) -> None:
    independent = forge(alice, extensions=[(proxy_cert_info(policy="1.3.6.1.5.5.7.21.2"), True)])
    _refused(independent.certificates, trust, ProxyProblem.UNSUPPORTED)
    unknown = x509.UnrecognizedExtension(x509.ObjectIdentifier("1.2.3.4.5"), b"\x05\x00")
    strange = forge(alice, extensions=[(proxy_cert_info(), True), (unknown, True)])
    _refused(strange.certificates, trust, ProxyProblem.UNSUPPORTED)
    not_critical = forge(alice, extensions=[(proxy_cert_info(), False)])
    _refused(not_critical.certificates, trust, ProxyProblem.MALFORMED)
    garbage = x509.UnrecognizedExtension(proxy_cert_info().oid, b"\x30\x02\x05\x00")
    _refused(forge(alice, extensions=[(garbage, True)]).certificates, trust, ProxyProblem.MALFORMED)


def test_an_issuer_without_digital_signature_may_not_make_proxies(ca: TestCA, trust: TrustStore) -> None:
    no_signing = x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=True,
                               data_encipherment=False, key_agreement=False, key_cert_sign=False,
                               crl_sign=False, encipher_only=False, decipher_only=False)
    ca_cred = ca_credential(ca)
    user = forge(ca_cred, subject=x509.Name([*ca.cert.subject.rdns[:-1], _cn("Encipher Only")]),
                 extensions=[(x509.BasicConstraints(ca=False, path_length=None), True), (no_signing, True)])
    proxy = create_proxy(ProxyCredential(user.cert, user.key), clock=real_clock(), key_size=1024)
    _refused(proxy.certificates, trust, ProxyProblem.KEY_USAGE)


def test_chain_length_and_form(alice: ProxyCredential, trust: TrustStore) -> None:
    clock = real_clock()
    proxy = alice
    for _ in range(4):
        proxy = create_proxy(proxy, clock=clock, key_size=1024)
    _refused(proxy.certificates, trust, ProxyProblem.TOO_LONG, max_chain=4)
    verify_chain(proxy.certificates, trust, clock=clock, max_chain=5)
    _refused((), trust, ProxyProblem.MALFORMED)
    _refused(proxy.certificates[:4], trust, ProxyProblem.MALFORMED)  # proxies and no user certificate


def test_invalid_proxy_keeps_its_reason_when_pickled(alice: ProxyCredential, trust: TrustStore) -> None:
    error = _refused(alice.certificates, trust, ProxyProblem.NOT_A_PROXY)
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is InvalidProxy and back.reason == "not_a_proxy"  # type: ignore[attr-defined]

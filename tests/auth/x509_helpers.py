"""Shared pieces of the X.509 tests: credentials of a TestCA, a clock at the real time, forgeries."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from wms_helpers import GRID

from dirac_core.auth.x509 import ProxyCredential, load_credential
from dirac_core.config import Config, load_config
from dirac_core.model.clock import FakeClock
from dirac_core.testing.pki import CertFiles, TestCA

#: the registry of the login tests: the WMS test grid's users, with DNs, and a group mapped to an FQAN
VOMS_ROLE = "/demo/Role=shared"


def real_clock() -> FakeClock:
    """A fake clock starting now: TestCA's certificates are valid around the real time."""
    return FakeClock(dt.datetime.now(dt.UTC).replace(microsecond=0))


def credential(files: CertFiles) -> ProxyCredential:
    """The certificate and key of ``files`` as a credential."""
    return load_credential(files.cert.read_bytes(), files.key.read_bytes())


def ca_credential(ca: TestCA) -> ProxyCredential:
    """The CA's own certificate and key (to sign what a CA should never sign)."""
    return load_credential(ca.files.cert.read_bytes(), ca.files.key.read_bytes())


def forge(issuer: ProxyCredential, *, subject: x509.Name | None = None,
          extensions: Sequence[tuple[x509.ExtensionType, bool]] = (),
          issuer_name: x509.Name | None = None, signer: rsa.RSAPrivateKey | None = None,
          not_before: dt.datetime | None = None, not_after: dt.datetime | None = None) -> ProxyCredential:
    """A hand-made certificate below ``issuer`` (a proxy shape unless told otherwise): the
    ``subject``, ``extensions``, ``issuer_name`` and signing key may be wrong on purpose."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    serial = x509.random_serial_number()
    now = dt.datetime.now(dt.UTC)
    name = subject or x509.Name([*issuer.cert.subject.rdns, x509.RelativeDistinguishedName(
        [x509.NameAttribute(NameOID.COMMON_NAME, str(serial))])])
    builder = (x509.CertificateBuilder().subject_name(name)
               .issuer_name(issuer_name or issuer.cert.subject).public_key(key.public_key())
               .serial_number(serial).not_valid_before(not_before or now - dt.timedelta(minutes=5))
               .not_valid_after(not_after or now + dt.timedelta(hours=1)))
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    cert = builder.sign(signer or issuer.key, hashes.SHA256())  # type: ignore[arg-type]
    return ProxyCredential(cert, key, issuer.certificates)


def grid_config(*, db_url: str, issuer: str, ca: TestCA, dns: dict[str, str], other_ca_dn: str,
                ca_dir: Path, challenge_seconds: int = 60) -> Config:
    """The WMS test grid where ``dns`` (user -> DN) have their DN and CA (bob's CA is
    ``other_ca_dn``: his logins fail the CA check), ``demo_shared`` has the VOMS role
    :data:`VOMS_ROLE`, and proxy login trusts ``ca_dir``."""
    text = GRID.replace('[registry.groups.demo_shared]\nname = "demo_shared"',
                        f'[registry.groups.demo_shared]\nname = "demo_shared"\nvoms_role = "{VOMS_ROLE}"')
    for name, dn in dns.items():
        issuer_dn = other_ca_dn if name == "bob" else ca.dn
        text = text.replace(f'[registry.users.{name}]\nname = "{name}"\n',
                            f'[registry.users.{name}]\nname = "{name}"\ndns = ["{dn}"]\nca = "{issuer_dn}"\n')
    text += (f'\n[database]\nurl = "{db_url}"\n\n[auth]\nissuer = "{issuer}"\n'
             f'x509 = {{ ca_dir = "{ca_dir}", challenge_seconds = {challenge_seconds} }}\n')
    return load_config(text, format="toml")


def write_ca_dir(directory: Path, *cas: TestCA) -> Path:
    """A CA directory as IGTF lays it out (a certificate per file, and files that are not)."""
    directory.mkdir(parents=True, exist_ok=True)
    for i, ca in enumerate(cas):
        (directory / f"ca{i}.pem").write_bytes(ca.pem)
        (directory / f"ca{i}.signing_policy").write_text("access_id_CA X509 '/whatever'\n")
    (directory / "README").write_text("not a certificate\n")
    return directory

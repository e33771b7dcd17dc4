"""``dirac-core proxy init / info``, ``login --proxy`` and ``pilot --proxy`` end to end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest
from cryptography.hazmat.primitives import serialization
from typer.testing import CliRunner
from x509_helpers import credential, grid_config, write_ca_dir

from dirac_core.auth.x509 import ProxyAttributes, load_credential, verify_chain
from dirac_core.auth.x509.trust import TrustStore
from dirac_core.cli import app
from dirac_core.config import User
from dirac_core.db import Database
from dirac_core.interware import Interware
from dirac_core.model.clock import SystemClock
from dirac_core.plugins.manager import make_plugin_manager
from dirac_core.testing.pki import CertFiles, TestCA
from dirac_server import create_app
from dirac_server.runner import bind, running, url_of

runner = CliRunner(env={"COLUMNS": "300"})  # rich does not wrap long paths then


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def alice(ca: TestCA) -> CertFiles:
    return ca.user_cert("Alice Cli", stem="alice")


@pytest.fixture
def served(database: Database, ca: TestCA, alice: CertFiles, tmp_path: Path) -> Iterator[str]:
    """A live server (system clock: the CLI compares expiry times with the real time)."""
    sock = bind()
    url = url_of(sock)
    config = grid_config(db_url=database.url.render_as_string(hide_password=False), issuer=url, ca=ca,
                         dns={"alice": alice.dn}, other_ca_dn=ca.dn,
                         ca_dir=write_ca_dir(tmp_path / "cas", ca))
    iw = Interware(config=config, database=database, clock=SystemClock(), hooks=make_plugin_manager(()))
    with running(create_app(iw), sock):
        yield url


def test_proxy_init_then_login_with_it(served: str, alice: CertFiles, ca: TestCA, tmp_path: Path) -> None:
    out = tmp_path / "x509up_u1000"
    made = runner.invoke(app, ["proxy", "init", "--cert", str(alice.cert), "--key", str(alice.key),
                               "--vo", "demo", "--group", "demo_shared", "--hours", "12", "--bits", "1024",
                               "--out", str(out)])
    assert made.exit_code == 0, made.output
    assert f"Proxy of {alice.dn} written to {out}" in made.output
    assert out.stat().st_mode & 0o777 == 0o600
    proxy = load_credential(out.read_bytes())
    found = verify_chain(proxy.certificates, TrustStore([ca.cert]), clock=SystemClock())
    assert found.attributes == ProxyAttributes(vo="demo", group="demo_shared")
    assert 11.9 * 3600 < (found.not_after - SystemClock().now()).total_seconds() <= 12 * 3600

    shown = runner.invoke(app, ["proxy", "info", str(out)])
    assert shown.exit_code == 0, shown.output
    assert f"identity : {alice.dn}" in shown.output and "group    : demo_shared" in shown.output
    assert "time left: 11:59" in shown.output or "time left: 12:00" in shown.output

    credentials = tmp_path / "creds.json"
    env = {"DIRACX_URL": served, "DIRACX_CREDENTIALS_PATH": str(credentials)}
    logged = runner.invoke(app, ["login", "--proxy", str(out)], env=env)
    assert logged.exit_code == 0, logged.output
    assert "Login successful!" in logged.output and credentials.stat().st_mode & 0o777 == 0o600
    me = runner.invoke(app, ["whoami", "--json"], env=env)
    assert me.exit_code == 0, me.output
    info = json.loads(me.output)
    assert (info["preferred_username"], info["dirac_group"]) == ("alice", "demo_shared")

    denied = tmp_path / "denied"
    runner.invoke(app, ["proxy", "init", "--cert", str(alice.cert), "--key", str(alice.key), "--vo", "demo",
                        "--group", "demo_admin", "--bits", "1024", "--out", str(denied)])
    refused = runner.invoke(app, ["login", "--proxy", str(denied)], env={**env, "DIRACX_CREDENTIALS_PATH":
                                                                         str(tmp_path / "other.json")})
    assert refused.exit_code == 1 and "not in group 'demo_admin'" in refused.output
    assert not (tmp_path / "other.json").exists()


def test_proxy_init_with_an_encrypted_key_and_of_a_proxy(alice: CertFiles, tmp_path: Path) -> None:
    user = credential(alice)
    locked = tmp_path / "userkey.pem"
    locked.write_bytes(user.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.BestAvailableEncryption(b"open sesame")))
    first = tmp_path / "first"
    made = runner.invoke(app, ["proxy", "init", "--cert", str(alice.cert), "--key", str(locked), "--bits",
                               "1024", "--hours", "2", "--out", str(first)], input="open sesame\n")
    assert made.exit_code == 0, made.output
    second = tmp_path / "second"  # a proxy of the proxy: the file holds certificate and key
    again = runner.invoke(app, ["proxy", "init", "--cert", str(first), "--bits", "1024", "--hours", "24",
                                "--vo", "demo", "--fqan", "/demo/Role=shared", "--out", str(second)])
    assert again.exit_code == 0, again.output
    inner, outer = load_credential(first.read_bytes()), load_credential(second.read_bytes())
    assert outer.chain == inner.certificates
    assert outer.cert.not_valid_after_utc == inner.cert.not_valid_after_utc  # not beyond its issuer
    wrong = runner.invoke(app, ["proxy", "init", "--cert", str(alice.cert), "--key", str(locked), "--out",
                                str(tmp_path / "x")], input="wrong\n")
    assert wrong.exit_code == 1 and "proxy init failed" in wrong.output
    assert runner.invoke(app, ["proxy", "init", "--group", "g"]).exit_code != 0  # a group needs its VO


def test_a_vacuum_pilot_joins_with_a_proxy(ca: TestCA, tmp_path: Path) -> None:
    pilot_cert = ca.user_cert("Pilot Node", stem="pilotnode")
    sock = bind()
    url = url_of(sock)
    config = Interware.embedded_config(tmp_path / "site")
    registry = config.registry
    users = {**registry.users, "pilot": User(name="pilot", dns=(pilot_cert.dn,), ca=ca.dn)}
    x509 = attrs.evolve(config.auth.x509, ca_dir=str(write_ca_dir(tmp_path / "cas", ca)))
    config = attrs.evolve(config, registry=attrs.evolve(registry, users=users),
                          auth=attrs.evolve(config.auth, issuer=url, x509=x509))
    proxy = tmp_path / "pilot-proxy"
    made = runner.invoke(app, ["proxy", "init", "--cert", str(pilot_cert.cert), "--key", str(pilot_cert.key),
                               "--bits", "1024", "--out", str(proxy)])
    assert made.exit_code == 0, made.output
    with Interware.from_config(config) as iw, running(create_app(iw), sock):
        [job] = iw.wms.submit('[Executable = "/bin/true";]', iw.identity("alice"))
        result = runner.invoke(app, ["pilot", "--server", url, "--proxy", str(proxy), "--site",
                                     "DIRAC.Embedded.local", "--stamp", "vacuum-x509-1", "--work-dir",
                                     str(tmp_path / "w"), "--heartbeat", "0.1"],
                               env={"DIRAC_PILOT_TOKEN": ""})
        assert result.exit_code == 0, result.output
        assert "1 job(s), 1 done" in result.output
        assert iw.wms.get_jobs([job.job_id])[job.job_id]["status"] == "Done"
        assert iw.wms.jobs_of_pilot("vacuum-x509-1") == {job.job_id}

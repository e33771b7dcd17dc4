"""Test, lint and benchmark sessions.

``nox -s tests`` is the one command that installs what is missing (Debian
packages through apt when running as root, the Python extras in the session's
virtual environment), makes sure MariaDB and PostgreSQL answer on 127.0.0.1,
and runs every quality gate: ruff, mypy and the whole pytest suite on SQLite,
MariaDB and PostgreSQL. ``.ci/run`` runs exactly this.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import nox

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"
#: Debian packages the extras and the real-component tests need: the MariaDB client library,
#: a single-node SLURM cluster with its accounting daemon, an sshd, an ARC CE (A-REX), an XRootD
#: server (with its https/WebDAV plugin), gfal2 with its file, xroot and http plugins, and Chromium
#: for the portal's browser tests (Playwright drives it; Playwright's own browser download fails here).
#: RabbitMQ: the messaging tests enable its STOMP plugin (dirac_core.testing.rabbitmq).
DEBIAN_PACKAGES = ["libmariadb-dev", "pkg-config", "gcc", "slurm-wlm", "munge", "slurmdbd",
                   "openssh-server", "nordugrid-arc-arex", "openssl", "xrootd-server",
                   "xrootd-server-plugins", "xrootd-client", "python3-gfal2", "gfal2-plugin-file",
                   "gfal2-plugin-xrootd", "gfal2-plugin-http", "chromium", "rabbitmq-server"]
#: Node.js and npm run the real OpenID provider (npm's ``oidc-provider``); installed from Debian only
#: where no ``node`` is on the PATH (these machines have NodeSource's, which Debian's npm conflicts with)
NODE_PACKAGES = ["nodejs", "npm"]

MYSQL_URL = "mysql+mysqldb://root@127.0.0.1:3306/test"
POSTGRESQL_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
#: How to start each service if it is down (the commands these machines use).
SERVICES = {
    ("127.0.0.1", 3306): ["start-stop-daemon", "--start", "--oknodo", "--background",
                          "--exec", "/usr/sbin/mariadbd"],
    ("127.0.0.1", 5432): ["sh", "-c", "pg_ctlcluster --skip-systemctl-redirect "
                          "$(ls /etc/postgresql) main start"],
}


def _missing_debian_packages(packages: list[str]) -> list[str]:
    missing = []
    for pkg in packages:
        done = subprocess.run(["dpkg-query", "-W", "-f=${Status}", pkg],
                              capture_output=True, text=True, check=False)
        if "install ok installed" not in done.stdout:
            missing.append(pkg)
    return missing


def install_debian_packages(session: nox.Session, packages: list[str]) -> None:
    """apt-get install what is missing, when we are root on a Debian machine."""
    if not shutil.which("dpkg-query"):
        session.warn("not a Debian machine: install %s by hand" % " ".join(packages))
        return
    missing = _missing_debian_packages(packages)
    if not missing:
        return
    if os.geteuid() != 0:
        session.warn("not root: cannot apt-get install %s" % " ".join(missing))
        return
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    session.run("apt-get", "update", "-qq", external=True, env=env)
    session.run("apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing,
                external=True, env=env)


def _listening(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


def ensure_services(session: nox.Session) -> None:
    """Start MariaDB and PostgreSQL if they do not answer (the tests fail, not skip, without them)."""
    for (host, port), command in SERVICES.items():
        if _listening(host, port):
            continue
        session.log(f"nothing on {host}:{port}; starting it: {' '.join(command)}")
        subprocess.run(command, check=False)
        for _ in range(60):
            if _listening(host, port):
                break
            time.sleep(0.5)
        else:
            session.warn(f"{host}:{port} still not answering")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Install everything, then ruff, mypy and pytest on SQLite, MariaDB and PostgreSQL."""
    node = [] if shutil.which("node") and shutil.which("npm") else NODE_PACKAGES
    install_debian_packages(session, DEBIAN_PACKAGES + node)
    ensure_services(session)
    session.install("-e", ".[all,dev]")
    session.run("ruff", "check", ".")
    session.run("mypy")
    env = {
        "DIRAC_TEST_MYSQL_URL": os.environ.get("DIRAC_TEST_MYSQL_URL", MYSQL_URL),
        "DIRAC_TEST_POSTGRESQL_URL": os.environ.get("DIRAC_TEST_POSTGRESQL_URL", POSTGRESQL_URL),
    }
    session.run("pytest", *(session.posargs or ["tests"]), env=env)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff and mypy only."""
    session.install("-e", ".[dev]")
    session.run("ruff", "check", ".")
    session.run("mypy")


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Benchmarks (pytest-benchmark) on the three backends, raw rates printed beside ours."""
    install_debian_packages(session, DEBIAN_PACKAGES)
    ensure_services(session)
    session.install("-e", ".[all,dev]")
    # DIRAC's own ClassAd, run beside ours as the JDL targets' reference (benchmarks/dirac_reference.py)
    session.install("DIRACCommon>=9.1,<9.2")
    env = {"DIRAC_TEST_MYSQL_URL": MYSQL_URL, "DIRAC_TEST_POSTGRESQL_URL": POSTGRESQL_URL}
    session.run("pytest", "benchmarks", "-s", "--benchmark-enable", "--benchmark-only",
                "--benchmark-columns=min,mean,max,rounds", *session.posargs, env=env)

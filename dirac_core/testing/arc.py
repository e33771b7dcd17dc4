"""A real ARC CE (A-REX 6, REST interface) started for a test session.

:func:`arc_ce` writes a private ``arc.conf`` (LRMS ``fork``; every path,
port and certificate its own, all under one folder), makes a test PKI with
:class:`~dirac_core.testing.pki.TestCA`, starts the two A-REX daemons and
waits until ``GET /arex/rest/1.0/info?schema=glue2`` answers. On exit it stops
both daemons (in parallel, by SIGTERM) and kills the processes fork jobs left
behind.

The A-REX instance:

- listens on ``0.0.0.0:<port>`` (an unused port unless given), advertised as
  ``https://127.0.0.1:<port>/arex``;
- trusts only the test CA and maps the test user's DN to ``nobody:nogroup``
  (A-REX refuses to map to root), so jobs *and* A-REX's per-job helpers run
  as ``nobody``: its folder must be reachable by other users;
- runs the *job manager* with this module's own arched XML, only to set
  ``InfoproviderWakeupPeriod`` (GLUE2 and the REST ``jobs?action=status``
  states are refreshed only that often; A-REX's default is 60 s), and the
  *WS frontend* with the package's ``arc-arex-ws-start`` unchanged. Both run in
  the foreground (``arched -f``) as children of this process.

Needs the Debian packages ``nordugrid-arc-arex`` (A-REX and its REST server)
and ``openssl`` (the start script checks the DH parameters with it).

Raises :class:`ArcUnavailable` when A-REX is not installed, when this process
is not root (A-REX switches to the mapped user) or when the daemons do not
come up; the message carries the tail of their logs.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from attrs import frozen

from dirac_core.testing.pki import CertFiles, TestCA

__all__ = ["ARCHED", "ArcServer", "ArcUnavailable", "arc_ce", "arc_missing"]

#: the A-REX daemon binary, from the Debian package ``nordugrid-arc-arex``
ARCHED = Path("/usr/sbin/arched")
_ARC_SHARE = Path("/usr/share/arc")
_ARC_LIB = Path("/usr/lib/arc")
_WS_START = _ARC_SHARE / "arc-arex-ws-start"
_STOP_TIMEOUT = 40.0


class ArcUnavailable(Exception):
    """A-REX cannot be run here (not installed, not root) or did not start."""


@frozen(kw_only=True)
class ArcServer:
    """A running A-REX: where it answers and the credentials of its one mapped user.

    ``url`` is the service endpoint (``https://127.0.0.1:<port>/arex``), the
    value of an ``ArcCE`` section's ``url``; ``ca_file`` is the test CA, the
    only CA the server trusts and the one to verify it with. ``unmapped_cert``
    is signed by that CA but maps to no account (A-REX answers 403).
    """

    url: str
    port: int
    ca_file: Path
    user_cert: Path
    user_key: Path
    user_dn: str
    unmapped_cert: Path
    unmapped_key: Path
    queue: str
    base_dir: Path

    @property
    def rest_url(self) -> str:
        """The REST interface 1.0 base URL."""
        return f"{self.url}/rest/1.0"

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of each A-REX log, for failure messages."""
        return _log_tail(self.base_dir / "log", lines)


def arc_missing() -> str | None:
    """Why A-REX cannot be started on this machine, or None when it can."""
    for path in (ARCHED, _WS_START, _ARC_LIB / "arcconfig-parser", _ARC_LIB / "arc-config-check"):
        if not path.exists():
            return f"{path} is missing (apt-get install nordugrid-arc-arex)"
    if shutil.which("openssl") is None:
        return "the openssl command is missing (apt-get install openssl)"
    if os.geteuid() != 0:
        return "A-REX must be started as root (it switches to the mapped user)"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run(args: list[str], *, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, capture_output=True, text=True, env=env, check=False, timeout=120)
    if done.returncode != 0:
        raise ArcUnavailable(f"{' '.join(args)} failed ({done.returncode}): "
                             f"{(done.stdout + done.stderr).strip()[-2000:]}")
    return done.stdout


def _log_tail(log_dir: Path, lines: int) -> str:
    parts = []
    for log in sorted(log_dir.glob("*.log")):
        text = log.read_text(errors="replace").splitlines()[-lines:]
        parts.append(f"--- {log.name}\n" + "\n".join(text))
    return "\n".join(parts)


def _install_ca(ca: TestCA, cert_dir: Path) -> None:
    """Put the CA where OpenSSL's hashed-directory lookup (and Globus policy) find it."""
    cert_dir.mkdir(parents=True, exist_ok=True)
    subject_hash = _run(["openssl", "x509", "-hash", "-noout", "-in", str(ca.files.cert)]).strip()
    (cert_dir / f"{subject_hash}.0").write_bytes(ca.pem)
    # A-REX's TLS layer checks Globus signing policies (PolicyGlobus="true")
    prefix = ca.dn.rsplit("/CN=", 1)[0]
    (cert_dir / f"{subject_hash}.signing_policy").write_text(
        f"access_id_CA   X509   '{ca.dn}'\n"
        "pos_rights     globus CA:sign\n"
        f"cond_subjects  globus '\"{prefix}/*\"'\n")


def _arc_conf(*, base: Path, port: int, host: CertFiles, user: CertFiles,
              queue: str) -> str:
    return f"""\
[common]
hostname = localhost
x509_host_key = {host.key}
x509_host_cert = {host.cert}
x509_cert_dir = {base}/grid-security/certificates

[authgroup:testusers]
subject = {user.dn}

[mapping]
map_to_user = testusers nobody:nogroup

[lrms]
lrms = fork

[arex]
loglevel = 3
logfile = {base}/log/arex.log
joblog = {base}/log/arex-jobs.log
helperlog = {base}/log/job.helper.errors
pidfile = {base}/run/arched-arex.pid
controldir = {base}/control
sessiondir = {base}/session
tmpdir = {base / "tmp"}
wakeupperiod = 5

[arex/ws]
wsurl = https://127.0.0.1:{port}/arex
logfile = {base}/log/ws-interface.log
pidfile = {base}/run/arched-arex-ws.pid

[arex/ws/jobs]
allowaccess = testusers

[infosys]
logfile = {base}/log/infoprovider.log

[infosys/glue2]

[infosys/cluster]

[queue:{queue}]
"""


def _job_manager_xml(*, base: Path, wakeup_period: int) -> str:
    # the package's arc-arex-start writes the same document without the wakeup period
    return f"""\
<?xml version="1.0"?>
<ArcConfig xmlns="http://www.nordugrid.org/schemas/ArcConfig/2007"
           xmlns:arex="http://www.nordugrid.org/schemas/a-rex/Config">
  <Server>
    <PidFile>{base}/run/arched-arex.pid</PidFile>
    <Logger><File>{base}/log/arex.log</File><Level>INFO</Level></Logger>
    <Watchdog>false</Watchdog>
  </Server>
  <ModuleManager><Path>{_ARC_LIB}/</Path></ModuleManager>
  <Plugins><Name>arex</Name></Plugins>
  <Chain>
    <Service name="a-rex" id="a-rex">
      <arex:gmconfig>{base}/run/arched-arex.cfg</arex:gmconfig>
      <arex:InfoproviderWakeupPeriod>{wakeup_period}</arex:InfoproviderWakeupPeriod>
    </Service>
  </Chain>
</ArcConfig>
"""


class _Daemons:
    """The two arched processes of one A-REX, started and stopped together."""

    def __init__(self, *, base: Path, host: CertFiles, wakeup_period: int) -> None:
        self._base = base
        self._host = host
        self._wakeup_period = wakeup_period
        self.procs: list[subprocess.Popen[bytes]] = []

    def _env(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith(("X509_", "ARC_"))}
        env.update(ARC_CONFIG=str(self._base / "arc.conf"), ARC_LOCATION="/usr", GLOBUS_LOCATION="/usr",
                   X509_USER_CERT=str(self._host.cert), X509_USER_KEY=str(self._host.key),
                   X509_CERT_DIR=str(self._base / "grid-security" / "certificates"),
                   TMPDIR=str(self._base / "tmp"), HOSTNAME="localhost")
        return env

    def start(self) -> None:
        env = self._env()
        conf = str(self._base / "arc.conf")
        _run([str(_ARC_LIB / "arcconfig-parser"), "--config", conf,
              "--runconfig", str(self._base / "run" / "arched-arex.cfg"), "--save"], env=env)
        _run([str(_ARC_LIB / "arc-config-check"), "--config", conf, "--skip-warnings"], env=env)
        xml = self._base / "run" / "arex.xml"
        xml.write_text(_job_manager_xml(base=self._base, wakeup_period=self._wakeup_period))
        log_dir = self._base / "log"
        self.procs.append(self._spawn([str(ARCHED), "-f", "-c", str(xml)], env, log_dir / "arched-arex.out"))
        self.procs.append(self._spawn([str(_WS_START), "-f"], env, log_dir / "arched-arex-ws.out"))

    def _spawn(self, args: list[str], env: dict[str, str], out: Path) -> subprocess.Popen[bytes]:
        with out.open("wb") as stream:
            # own process group: a Ctrl-C of the test run does not hit A-REX before the fixture stops it
            return subprocess.Popen(args, env=env, cwd=self._base / "log", stdout=stream,
                                    stderr=subprocess.STDOUT, start_new_session=True)

    def dead(self) -> str | None:
        """Which daemon exited, with its exit status, or None if both run."""
        for proc in self.procs:
            code = proc.poll()
            if code is not None:
                return f"{' '.join(map(str, proc.args))!r} exited with status {code}"  # type: ignore[arg-type]
        return None

    def stop(self) -> None:
        """Stop both daemons gracefully (SIGTERM), killing them after a timeout."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + _STOP_TIMEOUT
        for proc in self.procs:
            try:
                proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _kill_leftovers(base: Path) -> None:
    """Kill, by pid, processes of fork jobs that run in ``base`` (fork kill leaves them).

    A-REX's fork ``cancel`` does not reach the payload, which is re-parented to
    PID 1 and keeps running; they are recognised by their working directory
    or command line pointing into this instance's folder.
    """
    marker = f"{base}/"
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cwd = os.readlink(entry / "cwd")
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if f"{cwd}/".startswith(marker) or marker in cmdline:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(int(entry.name), signal.SIGKILL)


def _wait_ready(server: ArcServer, daemons: _Daemons, timeout: float) -> None:
    ssl_context = ssl.create_default_context(cafile=str(server.ca_file))
    ssl_context.load_cert_chain(str(server.user_cert), str(server.user_key))
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    with httpx.Client(verify=ssl_context, timeout=5.0) as client:
        while time.monotonic() < deadline:
            dead = daemons.dead()
            if dead:
                raise ArcUnavailable(f"A-REX did not start: {dead}\n{server.log_tail()}")
            try:
                response = client.get(f"{server.rest_url}/info", params={"schema": "glue2"},
                                      headers={"Accept": "application/json"})
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}: {response.text[:200]}"
            except httpx.TransportError as exc:
                last = repr(exc)
            time.sleep(0.25)
    raise ArcUnavailable(f"A-REX at {server.url} did not answer in {timeout:.0f} s ({last})\n"
                         f"{server.log_tail()}")


def _reachable_by_others(path: Path) -> bool:
    """Whether every folder above ``path`` lets other users through (o+x)."""
    return all(os.stat(parent).st_mode & stat.S_IXOTH for parent in path.parents)


@contextlib.contextmanager
def arc_ce(tmp_dir: Path, *, port: int | None = None, queue: str = "fork",
           wakeup_period: int = 50, start_timeout: float = 60.0) -> Iterator[ArcServer]:
    """Run an A-REX with LRMS fork for the duration of the ``with`` block.

    ``tmp_dir`` receives the configuration, certificates, control and session
    folders and logs; it is made world-readable (mode 0755) and every folder
    above it must let other users through, because A-REX's helpers and the
    jobs run as ``nobody`` (a ``tempfile.mkdtemp()`` folder qualifies, pytest's
    ``tmp_path`` does not). ``wakeup_period`` is the info-provider period in
    tenths of a second (each run costs about a second of CPU). Raises
    :class:`ArcUnavailable` if A-REX cannot run here, ``tmp_dir`` is not
    reachable or A-REX does not answer within ``start_timeout`` seconds. The
    caller removes ``tmp_dir`` (files in it belong to ``nobody``).
    """
    missing = arc_missing()
    if missing:
        raise ArcUnavailable(missing)
    base = Path(tmp_dir).absolute()
    base.mkdir(parents=True, exist_ok=True)
    if not _reachable_by_others(base):
        raise ArcUnavailable(f"{base} is under a folder that user nobody cannot enter; "
                             "use a folder made by tempfile.mkdtemp()")
    base.chmod(0o755)
    for sub in ("log", "run", "control", "grid-security", "session"):
        (base / sub).mkdir(exist_ok=True)
    (base / "tmp").mkdir(exist_ok=True)
    (base / "tmp").chmod(0o1777)  # arc-config-check demands a sticky, world-writable tmpdir
    daemons: _Daemons | None = None
    try:
        ca = TestCA(base / "grid-security", dn_prefix=("org", "dirac-test", secrets.token_hex(4)))
        host = ca.host_cert(["127.0.0.1", "localhost", socket.gethostname()])
        user = ca.user_cert("Test User")
        unmapped = ca.user_cert("Unmapped User", stem="unmapped")
        _install_ca(ca, base / "grid-security" / "certificates")
        # a 4096-bit DH group would otherwise be generated for minutes at first start
        _run(["openssl", "genpkey", "-genparam", "-algorithm", "DH", "-pkeyopt", "group:ffdhe2048",
              "-out", str(base / "control" / "dhparam.pem")])
        port = port or _free_port()
        (base / "arc.conf").write_text(_arc_conf(base=base, port=port, host=host, user=user, queue=queue))
        server = ArcServer(url=f"https://127.0.0.1:{port}/arex", port=port, ca_file=ca.files.cert,
                           user_cert=user.cert, user_key=user.key, user_dn=user.dn,
                           unmapped_cert=unmapped.cert, unmapped_key=unmapped.key, queue=queue,
                           base_dir=base)
        daemons = _Daemons(base=base, host=host, wakeup_period=wakeup_period)
        daemons.start()
        _wait_ready(server, daemons, start_timeout)
        yield server
    finally:
        if daemons is not None:
            daemons.stop()
        _kill_leftovers(base)

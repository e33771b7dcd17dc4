"""RabbitMQ's STOMP listener over TLS (port 61614), for tests of the ``stomp`` driver's TLS options.

:func:`ensure_stomp_tls` gives a :class:`~dirac_core.testing.rabbitmq.StompBroker` whose
``ca_file`` and ``client`` certificate reach the TLS listener of the machine's RabbitMQ, and
keeps the plain listener (61613) and its connections as they are:

1. :func:`~dirac_core.testing.rabbitmq.ensure_stomp`: the node runs, its STOMP plugin is on;
2. a test PKI (:class:`~dirac_core.testing.pki.TestCA`) in :data:`TLS_DIR`, a folder of the
   ``rabbitmq`` user that stays between runs: ``ca.pem``, the broker's certificate for 127.0.0.1
   and localhost (``brokercert.pem``, ``brokerkey.pem``) and a client certificate
   (``clientcert.pem``, ``clientkey.pem``); made again only when missing or about to expire;
3. a marked block in ``/etc/rabbitmq/rabbitmq.conf`` (``stomp.listeners.ssl.1 = 61614`` and
   ``ssl_options.*``, the broker verifying the client certificates it is given), so that a
   restarted node listens at once;
4. when a STOMP login over TLS with that CA and client certificate fails, the listener is
   started in the running node with ``rabbitmqctl eval`` (a child of the plugin's supervisor made
   as the plugin makes it at boot, replacing an earlier TLS listener): no restart, which would
   cut every other connection to the shared broker.

A second call finds the files, the block and a listener that answers, and returns in well
under a second. Calls from several processes are serialised by a lock file in :data:`TLS_DIR`.
Everything raises :class:`~dirac_core.testing._daemons.ComponentUnavailable` when the listener
cannot be provided (not root, no ``rabbitmqctl``, the node refused).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import pwd
import socket
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography import x509

from dirac_core.testing._daemons import ComponentUnavailable, require_binaries, run_checked
from dirac_core.testing.pki import CertFiles, TestCA, grid_dn
from dirac_core.testing.rabbitmq import StompBroker, ensure_stomp

__all__ = ["RABBITMQ_CONF", "STOMP_TLS_PORT", "TLS_DIR", "ensure_stomp_tls"]

STOMP_TLS_PORT = 61614
#: where the broker's test PKI lives (readable by the rabbitmq user; kept between runs)
TLS_DIR = Path("/var/lib/rabbitmq/dirac-test-tls")
RABBITMQ_CONF = Path("/etc/rabbitmq/rabbitmq.conf")

_BEGIN = "# BEGIN dirac-core tests: STOMP over TLS (dirac_core/testing/rabbitmq_tls.py)"
_END = "# END dirac-core tests: STOMP over TLS"
_DAYS = 3650
_NAMES = ("ca.pem", "brokercert.pem", "brokerkey.pem", "clientcert.pem", "clientkey.pem")

# Run by ``rabbitmqctl eval``: the TLS listener as rabbit_stomp_sup makes it at boot, with the
# plugin's settings taken from the plain listener's child; an earlier TLS listener is replaced.
_START_LISTENER = """begin
  Port = {port},
  Ssl = [{{cacertfile, "{ca}"}}, {{certfile, "{cert}"}}, {{keyfile, "{key}"}},
         {{verify, verify_peer}}, {{fail_if_no_peer_cert, false}}],
  ok = application:set_env(rabbit, ssl_options, Ssl),
  ok = application:set_env(rabbitmq_stomp, ssl_listeners, [Port]),
  Sup = rabbit_stomp_sup,
  Mine = fun(Id) -> lists:suffix(":" ++ integer_to_list(Port), atom_to_list(Id)) end,
  Children = supervisor:which_children(Sup),
  [begin supervisor:terminate_child(Sup, Id), supervisor:delete_child(Sup, Id) end
   || {{Id, _, _, _}} <- Children, Mine(Id)],
  ssl:clear_pem_cache(),
  [Config | _] = [lists:nth(6, Args) || {{Id, _, _, _}} <- Children, not Mine(Id),
                  {{ok, #{{start := {{_, _, Args}}}}}} <- [supervisor:get_childspec(Sup, Id)]],
  SslOpts = rabbit_networking:ensure_ssl(),
  {{ok, SockOpts}} = application:get_env(rabbitmq_stomp, tcp_listen_options),
  Acceptors = application:get_env(rabbitmq_stomp, num_ssl_acceptors, 10),
  Started = [supervisor:start_child(Sup, rabbit_networking:tcp_listener_spec(
                 rabbit_stomp_listener_sup, Address, SockOpts ++ SslOpts, ranch_ssl,
                 rabbit_stomp_client_sup, Config, 'stomp/ssl', Acceptors, 1, "STOMP TLS listener"))
             || Address <- rabbit_networking:tcp_listener_addresses(Port)],
  case [R || R <- Started, element(1, R) =/= ok] of [] -> listening; Bad -> {{failed, Bad}} end
end."""


def ensure_stomp_tls(host: str = "127.0.0.1", port: int = STOMP_TLS_PORT, *, directory: Path = TLS_DIR,
                     config_file: Path = RABBITMQ_CONF, timeout: float = 120) -> StompBroker:
    """RabbitMQ's STOMP listener over TLS on ``host:port`` (see the module), provided if needed."""
    ensure_stomp(host, timeout=timeout)
    with _locked(directory):
        ca, client = _ensure_pki(directory)
        _ensure_config(config_file, port, directory)
        problem = _tls_login(host, port, ca, client)
        if problem is not None:
            rabbitmqctl = require_binaries(["rabbitmqctl"])["rabbitmqctl"]
            code = _START_LISTENER.format(port=port, ca=ca, cert=directory / "brokercert.pem",
                                          key=directory / "brokerkey.pem")
            done = run_checked([rabbitmqctl, "eval", code], timeout=timeout)
            if done.stdout.strip() != "listening":
                raise ComponentUnavailable(f"RabbitMQ did not start its STOMP TLS listener on {port} "
                                           f"(before: {problem}): {done.stdout.strip()[-2000:]}")
            problem = _tls_login(host, port, ca, client)
            if problem is not None:
                raise ComponentUnavailable(f"RabbitMQ's STOMP TLS listener on {host}:{port} was started "
                                           f"but a login over TLS fails: {problem}")
    broker = StompBroker(host=host, port=port, ca_file=ca, client=client)
    with broker.subscriber(broker.topic("probe")):  # the harness's own subscriber gets in too
        pass
    return broker


@contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """``directory`` made (the rabbitmq user's) and locked against other test processes."""
    try:
        directory.mkdir(mode=0o750, parents=True, exist_ok=True)
        _give_to_broker(directory)
        lock = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ComponentUnavailable(f"cannot prepare {directory} for RabbitMQ's TLS files "
                                   f"(root is needed): {exc}") from exc
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield
    finally:
        os.close(lock)


def _give_to_broker(path: Path) -> None:
    """The broker runs as the ``rabbitmq`` user: it must read the certificate and its key."""
    try:
        user = pwd.getpwnam("rabbitmq")
    except KeyError:
        return  # a node run by the current user reads what the current user wrote
    os.chown(path, user.pw_uid, user.pw_gid)


def _ensure_pki(directory: Path) -> tuple[Path, CertFiles]:
    """The CA file and the client certificate in ``directory``, made again if missing or expiring."""
    if not _pki_current(directory):
        try:
            ca = TestCA(directory, dn_prefix=("org", "dirac-test", "rabbitmq"), days=_DAYS)
            ca.host_cert(["127.0.0.1", "localhost"], stem="broker")
            ca.user_cert("STOMP test client", stem="client")
            for name in (*_NAMES, "ca-key.pem"):
                _give_to_broker(directory / name)
        except OSError as exc:
            raise ComponentUnavailable(f"cannot write the broker's TLS files in {directory}: {exc}") from exc
    client = directory / "clientcert.pem"
    subject = x509.load_pem_x509_certificate(client.read_bytes()).subject
    return directory / "ca.pem", CertFiles(cert=client, key=directory / "clientkey.pem", dn=grid_dn(subject))


def _pki_current(directory: Path) -> bool:
    soon = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    try:
        for name in ("ca.pem", "brokercert.pem", "clientcert.pem"):
            if x509.load_pem_x509_certificate((directory / name).read_bytes()).not_valid_after_utc < soon:
                return False
        return all((directory / name).is_file() for name in _NAMES)
    except (OSError, ValueError):
        return False


def _config_block(port: int, directory: Path) -> str:
    return "\n".join([
        _BEGIN,
        f"stomp.listeners.ssl.1 = {port}",
        f"ssl_options.cacertfile = {directory / 'ca.pem'}",
        f"ssl_options.certfile = {directory / 'brokercert.pem'}",
        f"ssl_options.keyfile = {directory / 'brokerkey.pem'}",
        "ssl_options.verify = verify_peer",
        "ssl_options.fail_if_no_peer_cert = false",
        _END, ""])


def _ensure_config(config_file: Path, port: int, directory: Path) -> None:
    """The block of :func:`_config_block` in ``config_file``, in place of an earlier one; other
    settings kept. A TLS setting of someone else's there is left alone (ComponentUnavailable)."""
    try:
        text = config_file.read_text() if config_file.exists() else ""
    except OSError as exc:
        raise ComponentUnavailable(f"cannot read {config_file}: {exc}") from exc
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.strip() == _BEGIN), None)
    end = next((i for i, line in enumerate(lines) if line.strip() == _END), None)
    if start is not None and end is not None and start < end:
        others = lines[:start] + lines[end + 1:]
    else:
        others = lines
    theirs = [line.strip() for line in others
              if line.strip().startswith(("ssl_options.", "stomp.listeners.ssl"))]
    if theirs:
        raise ComponentUnavailable(f"{config_file} already configures TLS ({theirs[0]!r}); "
                                   "not changing it for the tests")
    body = "".join(others)
    wanted = body + ("\n" if body and not body.endswith("\n") else "") + _config_block(port, directory)
    if wanted == text:
        return
    temporary = config_file.with_name(config_file.name + ".dirac-tmp")
    try:
        temporary.write_text(wanted)
        temporary.chmod(0o644)
        os.replace(temporary, config_file)
    except OSError as exc:
        raise ComponentUnavailable(f"cannot write {config_file}: {exc}") from exc


def _tls_login(host: str, port: int, ca: Path, client: CertFiles) -> str | None:
    """Why a STOMP login over TLS (verifying the broker with ``ca``, showing ``client``) fails, or
    None when the broker answers CONNECTED."""
    try:
        context = ssl.create_default_context(cafile=str(ca))
        context.load_cert_chain(str(client.cert), str(client.key))
        with socket.create_connection((host, port), timeout=5) as raw, \
                context.wrap_socket(raw, server_hostname=host) as tls:
            tls.sendall(b"CONNECT\naccept-version:1.2\nhost:/\n\n\x00")
            answer = tls.recv(4096)
    except (OSError, ValueError) as exc:  # refused, certificate not accepted, files unreadable
        return f"{type(exc).__name__}: {exc}"
    if not answer.startswith(b"CONNECTED"):
        return f"the broker answered {answer[:200]!r}"
    return None

"""A real XRootD server, answering ``root://`` and ``https://``/``davs://``, for storage-driver tests.

:func:`xrootd_server` runs Debian's ``xrootd`` (package ``xrootd-server``)
in the foreground as a child of this process, with its XrdHttp plugin
(package ``xrootd-server-plugins``) on a second port, so that one server and
one namespace answer the XRootD protocol and HTTPS/WebDAV. Checksums are
adler32 (``xrootd.chksum adler32``): ``query checksum`` over ``root://`` and
``Want-Digest: adler32`` over HTTPS. TLS uses a throw-away
:class:`~dirac_core.testing.pki.TestCA`: a host certificate for
``localhost``/``127.0.0.1`` and a user certificate a client may present.
Both ports are free loopback-reachable ports chosen at start.

Third-party copy is on when ``xrdcp`` (Debian's ``xrootd-client``) is
there (:attr:`XRootDServer.third_party_copy`): ``ofs.tpc`` for ``root://``
(the destination server runs ``xrdcp`` to pull the file) and XrdHttp's
``libXrdHttpTPC`` for a WebDAV ``COPY`` with a ``Source`` header over
HTTPS. The server is named ``127.0.0.1``, not ``localhost``: XRootD's
rendezvous compares the destination host a client names with the name
under which the source sees the destination's connection, and loopback
connections are not resolved back to ``localhost``, so a copy to a
``localhost`` URL waits for a grant that never matches until it expires.

XrdHttp 5.5 (Debian 12) answers ``Want-Digest`` reliably only for a file
whose checksum the server has cached: computing one goes through an
asynchronous job its HTTP/1 front end mishandles (requests hang, ``GET``
answers 404, the server crashes). Tests that want checksums over HTTPS call
:meth:`XRootDServer.cache_checksum` first (it asks over ``root://``, where
the answer is synchronous and then cached) or use HTTPS drivers with
``digest=False``.

XRootD refuses to run as root. When this process is root the server runs
as the ``xrootd`` user (``runuser``), and its files (configuration, keys,
data, admin and pid folders) live in a private ``/tmp/dirac-xrootd-*``
folder owned by that user, since pytest's temporary folders are private to
root; that folder is removed on exit. Otherwise the server runs as the
current user with its files in ``tmp_dir``. The server's log is always
``tmp_dir/xrootd.log``.

It installs nothing and raises :class:`ComponentUnavailable` when the
programs or the user are missing or the server does not answer.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import ssl
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from attrs import frozen

from dirac_core.testing._daemons import (
    ComponentUnavailable,
    Daemon,
    free_port,
    require_binaries,
    run_checked,
    wait_until,
)
from dirac_core.testing.pki import CertFiles, TestCA

__all__ = ["ComponentUnavailable", "XRootDServer", "xrootd_server"]

#: The account Debian's ``xrootd-server`` creates; the server runs as it when we are root.
SERVER_USER = "xrootd"
HOST = "127.0.0.1"


@frozen(kw_only=True)
class XRootDServer:
    """A running test server: where it listens, where its files are, what a client needs."""

    host: str
    root_port: int
    https_port: int
    #: The server's ``oss.localroot``: storage path ``/a/b`` is ``data_dir/a/b``.
    data_dir: Path
    #: The CA that signed the host certificate (trust it to verify the HTTPS port).
    ca_file: Path
    #: A user certificate and key signed by the same CA, for client-certificate tests.
    user_cert: CertFiles
    log_path: Path
    #: Whether third-party copies work (``ofs.tpc`` and ``libXrdHttpTPC``; needs ``xrdcp``).
    third_party_copy: bool = False

    @property
    def root_url(self) -> str:
        """``root://host:port`` of the XRootD protocol port."""
        return f"root://{self.host}:{self.root_port}"

    @property
    def https_url(self) -> str:
        """``https://host:port`` of the XrdHttp port."""
        return f"https://{self.host}:{self.https_port}"

    def cache_checksum(self, path: str) -> str:
        """Have the server compute and cache the adler32 of ``path`` (over ``root://``); returns it.

        Raises :class:`ComponentUnavailable` when ``xrdfs`` (Debian's
        ``xrootd-client``) is missing or the query fails.
        """
        xrdfs = require_binaries(["xrdfs"])["xrdfs"]
        done = run_checked([xrdfs, self.root_url, "query", "checksum", path])
        return done.stdout.split()[-1]

    def local_path(self, path: str) -> Path:
        """The file behind the storage path ``path`` (to inspect or corrupt it behind the server's back)."""
        return self.data_dir / path.lstrip("/")


def _config(*, folder: Path, root_port: int, https_port: int, xrdcp: str | None = None) -> str:
    etc = folder / "etc"
    # the destination of a root:// third-party copy pulls the file with xrdcp (autorm: a failed
    # copy leaves nothing; logok: grants are logged); XrdHttp's TPC handler answers a COPY with a
    # Source header and logs each transfer (tpc.trace info)
    tpc = [f"ofs.tpc autorm logok pgm {xrdcp} --server", "http.exthandler xrdtpc libXrdHttpTPC.so",
           "tpc.trace info"] if xrdcp else []
    return "\n".join([
        "all.export /",
        f"oss.localroot {folder / 'data'}",
        f"xrd.port {root_port}",
        f"all.adminpath {folder / 'admin'}",
        f"all.pidpath {folder / 'run'}",
        "xrootd.chksum adler32",
        # the HTTP(S)/WebDAV protocol on its own port; TLS makes it https
        f"xrd.protocol XrdHttp:{https_port} libXrdHttp.so",
        f"xrd.tls {etc / 'hostcert.pem'} {etc / 'hostkey.pem'}",
        f"xrd.tlsca certfile {etc / 'ca.pem'}",
        "http.listingdeny yes",
        *tpc,
        "",
    ])


def _answers_tls(port: int, context: ssl.SSLContext) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=2) as sock, \
                context.wrap_socket(sock, server_hostname=HOST):
            return True
    except OSError:  # ssl.SSLError is an OSError
        return False


def _answers_tcp(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=2):
            return True
    except OSError:
        return False


def _server_account() -> tuple[int, int] | None:
    """The uid and gid to run the server as: the ``xrootd`` user when we are root, else None."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(SERVER_USER)
    except KeyError as exc:
        raise ComponentUnavailable(f"XRootD will not run as root and there is no {SERVER_USER!r} user "
                                   "(Debian's xrootd-server creates it)") from exc
    return entry.pw_uid, entry.pw_gid


def _stop_first(daemon: Daemon, pid_file: Path, *, timeout: float = 10) -> None:
    """SIGTERM the server itself (``runuser`` waits two seconds before passing a signal on).

    The process id comes from the server's pid file and is used only if that
    process is the child of our ``runuser``; ``daemon.stop()`` follows anyway.
    """
    try:
        pid = int(pid_file.read_text().split()[0])
        parent = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
    except (OSError, ValueError, IndexError):
        return
    if int(parent) != daemon.process.pid:
        return
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    with contextlib.suppress(ComponentUnavailable):
        wait_until(lambda: daemon.process.poll() is not None or not Path(f"/proc/{pid}").exists(),
                   timeout=timeout, what="xrootd stopping", interval=0.05)


def _chown_tree(folder: Path, uid: int, gid: int) -> None:
    os.chown(folder, uid, gid)
    for child in folder.rglob("*"):
        os.chown(child, uid, gid)


@contextmanager
def xrootd_server(tmp_dir: Path, *, start_timeout: float = 30,
                  third_party_copy: bool = True) -> Iterator[XRootDServer]:
    """Run an XRootD server with HTTPS until the block ends; its log is ``tmp_dir/xrootd.log``.

    ``third_party_copy=False`` leaves third-party copy off (a server that refuses it); on, it
    needs ``xrdcp`` and stays off without it (see :attr:`XRootDServer.third_party_copy`).

    Raises :class:`ComponentUnavailable` when ``xrootd`` or its user is
    missing, or when the server exits or does not answer on both ports within
    ``start_timeout`` seconds (the message ends with its log). The server is
    stopped and its private folder removed on exit or failure.
    """
    programs = require_binaries(["xrootd", "runuser"] if os.geteuid() == 0 else ["xrootd"])
    xrdcp: str | None = None
    with contextlib.suppress(ComponentUnavailable):
        xrdcp = require_binaries(["xrdcp"])["xrdcp"] if third_party_copy else None
    account = _server_account()
    tmp_dir = Path(tmp_dir)
    tmp_dir.mkdir(parents=True, exist_ok=True)
    ca = TestCA(tmp_dir / "pki")
    host_cert = ca.host_cert(["localhost", HOST])
    user_cert = ca.user_cert()
    with ExitStack() as stack:
        if account is None:
            folder = tmp_dir / "xrootd"
            folder.mkdir(exist_ok=True)
        else:
            folder = Path(tempfile.mkdtemp(prefix="dirac-xrootd-"))
            stack.callback(shutil.rmtree, folder, ignore_errors=True)
        for sub in ("data", "admin", "run", "etc"):
            (folder / sub).mkdir(exist_ok=True)
        for source, name in ((host_cert.cert, "hostcert.pem"), (host_cert.key, "hostkey.pem"),
                             (ca.files.cert, "ca.pem")):
            shutil.copyfile(source, folder / "etc" / name)
        (folder / "etc" / "hostkey.pem").chmod(0o600)
        root_port, https_port = free_port(), free_port()
        conf = folder / "etc" / "xrootd.cfg"
        conf.write_text(_config(folder=folder, root_port=root_port, https_port=https_port, xrdcp=xrdcp))
        instance = f"dirac-{root_port}"  # xrootd's -n: names the admin and pid sub-folders
        argv = [programs["xrootd"], "-c", str(conf), "-n", instance]
        if account is not None:
            _chown_tree(folder, *account)
            argv = [programs["runuser"], "-u", SERVER_USER, "--", *argv]
        log_path = tmp_dir / "xrootd.log"
        daemon = Daemon("xrootd", argv, log_path=log_path)
        stack.callback(daemon.stop)
        if account is not None:
            stack.callback(_stop_first, daemon, folder / "run" / instance / "xrootd.pid")
        context = ssl.create_default_context(cafile=str(ca.files.cert))
        try:
            wait_until(lambda: _answers_tcp(root_port) and _answers_tls(https_port, context),
                       timeout=start_timeout, what="xrootd (with XrdHttp from xrootd-server-plugins)",
                       alive=daemon.dead)
        except ComponentUnavailable as exc:
            if daemon.dead() is not None:
                raise
            raise ComponentUnavailable(f"{exc}; log: {daemon.log_tail(800)}") from exc
        yield XRootDServer(host=HOST, root_port=root_port, https_port=https_port,
                           data_dir=folder / "data", ca_file=ca.files.cert, user_cert=user_cert,
                           log_path=log_path, third_party_copy=xrdcp is not None)

"""The ``stomp`` message-queue driver: STOMP 1.2 to RabbitMQ, ActiveMQ, Artemis (PyPI ``stomp.py``).

Options (``[messaging.options]``): ``host`` (127.0.0.1), ``port`` (61613), ``user`` and
``password_file`` (a file holding the password; no user: the broker's default login, RabbitMQ's
``stomp.default_user``), ``vhost`` (``/``: RabbitMQ picks the virtual host from the ``host``
header, which STOMP 1.2 always sends), ``timeout`` (seconds to connect and to wait for a receipt,
10), ``persistent`` (true: the broker writes the messages of durable queues to disk) and
``heartbeat`` (milliseconds between STOMP heart-beats both ways, 0: none; a receipt that does
not come also reveals a dead connection).

TLS (:mod:`dirac_core.messaging.tls`): ``tls`` (false), ``ca_file`` (the CA to verify the broker
with; default: the system's store), ``cert_file`` and ``key_file`` (a client certificate, when the
broker asks for one) and ``verify_hostname`` (true: the broker's certificate must name ``host``).
The files are checked when the driver is built (``ConfigError`` naming the option and the path).
A broker whose certificate is not accepted is unavailable (``BrokerUnavailable``, saying why).

Every SEND asks for a receipt and :meth:`StompQueue.publish` waits for it, so a message that
returns was accepted by the broker. Destinations are the broker's: ``/topic/NAME`` (RabbitMQ:
the ``amq.topic`` exchange, routing key NAME; subscribers get what is published while they are
subscribed), ``/queue/NAME`` (a durable queue that keeps messages until consumed),
``/exchange/X/KEY``, ``/amq/queue/NAME``. stomp.py is imported on first use: the driver is listed
and configured where it is not installed (``pip install 'dirac-core[messaging]'``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dirac_core.errors import BrokerUnavailable, ConfigError, MessagingError
from dirac_core.messaging.tls import TlsSettings, tls_settings
from dirac_core.plugins.groups import PluginGroup
from dirac_core.plugins.loading import import_backend
from dirac_core.plugins.messaging import MessageQueue

__all__ = ["StompQueue"]

log = logging.getLogger(__name__)


class _Listener:
    """What the connection's receiver thread tells: connected, receipts, errors, disconnection.

    stomp.py calls ``on_<frame>`` methods found on its listeners by name; a plain class will do.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self.connected = False
        self.lost = False
        self.error: str | None = None
        self._receipts: set[str] = set()

    def on_connected(self, frame: Any) -> None:
        with self._cond:
            self.connected = True
            self._cond.notify_all()

    def on_receipt(self, frame: Any) -> None:
        with self._cond:
            self._receipts.add(str(frame.headers.get("receipt-id", "")))
            self._cond.notify_all()

    def on_error(self, frame: Any) -> None:
        with self._cond:
            self.error = " ".join(f"{frame.headers.get('message', '')} {frame.body or ''}".split())[:500]
            self._cond.notify_all()

    def on_disconnected(self) -> None:
        with self._cond:
            self.lost = True
            self._cond.notify_all()

    def on_heartbeat_timeout(self) -> None:
        self.on_disconnected()

    def wait(self, done: Any, timeout: float) -> str:
        """Wait until ``done()`` (under the lock), an ERROR frame or a disconnection; which one
        came: ``"done"``, ``"error"``, ``"lost"`` or ``"timeout"``."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                if done():
                    return "done"
                if self.error is not None:
                    return "error"
                if self.lost:
                    return "lost"
                left = deadline - time.monotonic()
                if left <= 0:
                    return "timeout"
                self._cond.wait(left)

    def received(self, receipt: str) -> bool:
        """Whether the receipt ``receipt`` came (and forget it); call under :meth:`wait`."""
        if receipt in self._receipts:
            self._receipts.discard(receipt)
            return True
        return False


class StompQueue(MessageQueue):
    """Publishes to a STOMP broker, each message confirmed by a receipt (see the module's text).

    Raises ``ConfigError`` when ``password_file`` cannot be read, or a TLS option is wrong (a CA,
    certificate or key file that cannot be read or used; see :func:`~dirac_core.messaging.tls.tls_settings`).
    """

    name = "stomp"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 61613, user: str | None = None,
                 password_file: str | None = None, vhost: str = "/", timeout: float = 10.0,
                 persistent: bool = True, heartbeat: int = 0, tls: bool = False, ca_file: str | None = None,
                 cert_file: str | None = None, key_file: str | None = None,
                 verify_hostname: bool = True) -> None:
        self.host = host
        self.port = int(port)
        self.user = user
        self.vhost = vhost
        self.timeout = float(timeout)
        self.persistent = persistent
        self.heartbeat = int(heartbeat)
        #: the checked TLS options, None without TLS
        self.tls: TlsSettings | None = tls_settings(tls=tls, ca_file=ca_file, cert_file=cert_file,
                                                    key_file=key_file, verify_hostname=verify_hostname)
        self._password: str | None = None
        if password_file is not None:
            try:
                self._password = Path(password_file).read_text().strip()
            except OSError as exc:
                raise ConfigError([("messaging.options.password_file",
                                    f"cannot read {password_file}: {exc.strerror}")]) from None
        self._conn: Any = None
        self._listener: _Listener | None = None

    def __repr__(self) -> str:
        return f"StompQueue({self.host}:{self.port}, vhost={self.vhost!r}, tls={self.tls is not None})"

    @property
    def where(self) -> str:
        """The broker's address as ``host:port`` (for messages; never the password)."""
        return f"{self.host}:{self.port}"

    def publish(self, destination: str, message: Mapping[str, Any]) -> None:
        conn, listener = self._connection()
        receipt = uuid.uuid4().hex
        body = json.dumps(message, separators=(",", ":"), default=str)
        headers = {"receipt": receipt, **({"persistent": "true"} if self.persistent else {})}
        try:
            conn.send(destination, body, content_type="application/json", headers=headers)
        except Exception as exc:  # stomp.py's NotConnectedException, socket errors
            self._drop()
            raise BrokerUnavailable(f"STOMP broker {self.where}: sending failed ({type(exc).__name__}: "
                                    f"{exc})", host=self.host, port=self.port) from exc
        outcome = listener.wait(lambda: listener.received(receipt), self.timeout)
        if outcome == "done":
            return
        error = listener.error
        self._drop()
        if outcome == "error":
            raise MessagingError(f"STOMP broker {self.where} refused a message to {destination}: {error}",
                                 host=self.host, port=self.port, destination=destination)
        why = "the connection was lost" if outcome == "lost" else f"no receipt within {self.timeout:g} s"
        raise BrokerUnavailable(f"STOMP broker {self.where}: {why}", host=self.host, port=self.port)

    def close(self) -> None:
        self._drop()

    # -- inside ------------------------------------------------------------------------

    def _connection(self) -> tuple[Any, _Listener]:
        if self._conn is not None and self._listener is not None and self._listener.connected \
                and not self._listener.lost and self._listener.error is None:
            return self._conn, self._listener
        self._drop()
        stomp = import_backend("stomp", group=PluginGroup.MESSAGE_QUEUES, name=self.name)
        conn = stomp.Connection12([(self.host, self.port)], try_loopback_connect=False,
                                  reconnect_sleep_initial=0.0, reconnect_sleep_jitter=0.0,
                                  reconnect_attempts_max=1, timeout=self.timeout,
                                  heartbeats=(self.heartbeat, self.heartbeat), vhost=self.vhost)
        listener = _Listener()
        if self.tls is not None:
            conn.set_ssl(for_hosts=[(self.host, self.port)], **self.tls.stomp_ssl())
        conn.set_listener("dirac-core", listener)
        self._conn, self._listener = conn, listener
        try:
            conn.connect(self.user, self._password, wait=False)
        except Exception as exc:  # stomp.py's ConnectFailedException, socket errors
            self._drop()
            problem = self._tls_problem()
            detail = f"{type(exc).__name__}{f': {exc}' if str(exc) else ''}"
            why = f" over TLS: {problem}" if problem else f" ({detail})"
            raise BrokerUnavailable(f"cannot connect to the STOMP broker {self.where}{why}",
                                    host=self.host, port=self.port) from exc
        outcome = listener.wait(lambda: listener.connected, self.timeout)
        if outcome != "done":
            error = listener.error
            self._drop()
            # a TLS 1.3 broker refuses a client certificate after the handshake: the connection is lost
            problem = self._tls_problem() if outcome == "lost" else None
            if outcome == "error":
                why = f": it refused the connection: {error}"
            elif outcome == "lost":
                why = f" over TLS: {problem}" if problem else ": it closed the connection"
            else:
                why = f": no answer within {self.timeout:g} s"
            raise BrokerUnavailable(f"cannot connect to the STOMP broker {self.where}{why}",
                                    host=self.host, port=self.port)
        log.info("connected to the STOMP broker %s", self.where)
        return conn, listener

    def _tls_problem(self) -> str | None:
        """What is wrong with TLS to the broker (stomp.py only logs it), None without TLS or when
        nothing is (see :meth:`~dirac_core.messaging.tls.TlsSettings.diagnose`)."""
        if self.tls is None:
            return None
        return self.tls.diagnose(self.host, self.port, timeout=self.timeout)

    def _drop(self) -> None:
        """Forget the connection (after an error, or to close): DISCONNECT, then close the socket."""
        conn, listener, self._conn, self._listener = self._conn, self._listener, None, None
        if conn is None:
            return
        try:
            if conn.is_connected():
                conn.disconnect()
                if listener is not None and self.tls is not None:
                    # stomp.py's receiver closes the socket on the DISCONNECT receipt; closing a TLS
                    # socket from here as well races with it (stomp.py logs WARNINGs)
                    listener.wait(lambda: False, min(self.timeout, 2.0))
        except Exception as exc:  # the connection may be half gone already
            log.debug("STOMP disconnect from %s: %s", self.where, exc)
        try:
            conn.transport.disconnect_socket()
        except Exception as exc:
            log.debug("STOMP socket of %s: %s", self.where, exc)

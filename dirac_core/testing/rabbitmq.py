"""A real RabbitMQ with its STOMP plugin, for tests of the ``stomp`` message-queue driver.

RabbitMQ runs here as a system service (AMQP on 127.0.0.1:5672). :func:`ensure_stomp` makes its
STOMP listener answer on 61613: when nothing listens there it starts the node if it is down
(``rabbitmq-server -detached``), enables the plugin (``rabbitmq-plugins enable rabbitmq_stomp``,
which the node applies at once) and waits until a STOMP login succeeds. The node is a shared
service, so nothing is stopped afterwards. A test that needs the broker to go away puts a
:class:`~dirac_core.testing.tcp_proxy.TcpProxy` between the driver and the broker.

:class:`StompSubscriber` is a real consumer (stomp.py): it subscribes to a destination and keeps
the JSON bodies it receives, in order; given a ``ca_file`` it connects over TLS (verifying the
broker against that CA). :mod:`dirac_core.testing.rabbitmq_tls` adds the TLS listener. Everything raises
:class:`~dirac_core.testing._daemons.ComponentUnavailable` when the broker cannot be provided.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from attrs import frozen

from dirac_core.testing._daemons import ComponentUnavailable, require_binaries, run_checked, wait_until
from dirac_core.testing.pki import CertFiles

__all__ = ["ComponentUnavailable", "StompBroker", "StompSubscriber", "ensure_stomp", "stomp_missing"]

AMQP_PORT = 5672
STOMP_PORT = 61613


@frozen(kw_only=True)
class StompBroker:
    """Where the STOMP listener answers, and the virtual host to use (the default login: guest).

    A TLS listener has its ``ca_file`` (the CA that signed the broker's certificate) and a
    ``client`` certificate of that CA, which the broker accepts (it refuses one of another CA).
    """

    host: str
    port: int
    vhost: str = "/"
    ca_file: Path | None = None
    client: CertFiles | None = None

    def subscriber(self, destination: str) -> StompSubscriber:
        """A started subscriber of ``destination`` (close it, or use ``with``); over TLS when the
        listener is."""
        return StompSubscriber(self.host, self.port, destination, vhost=self.vhost, ca_file=self.ca_file)

    def driver_options(self) -> dict[str, str | int | bool]:
        """The ``stomp`` driver's options that reach this listener (``tls`` and ``ca_file`` for TLS)."""
        options: dict[str, str | int | bool] = {"host": self.host, "port": self.port}
        if self.ca_file is not None:
            options.update(tls=True, ca_file=str(self.ca_file))
        return options

    def topic(self, name: str) -> str:
        """A topic destination private to one test: ``/topic/dirac-test.<random>.<name>``."""
        return f"/topic/dirac-test.{uuid.uuid4().hex[:12]}.{name}"


def stomp_missing() -> str | None:
    """Why the STOMP tests cannot run here (the stomp.py package is missing), or None."""
    try:
        found = importlib.util.find_spec("stomp") is not None
    except ModuleNotFoundError:
        found = False
    return None if found else ("the Python package stomp.py is not installed "
                               "(pip install 'dirac-core[messaging]')")


def _listening(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((host, port)) == 0


def ensure_stomp(host: str = "127.0.0.1", port: int = STOMP_PORT, *, timeout: float = 120) -> StompBroker:
    """A RabbitMQ STOMP listener on ``host:port``, started and enabled if needed (see the module)."""
    missing = stomp_missing()
    if missing:
        raise ComponentUnavailable(missing)
    if not _listening(host, port):
        tools = require_binaries(["rabbitmq-server", "rabbitmq-plugins", "rabbitmqctl"])
        if not _listening(host, AMQP_PORT):
            run_checked([tools["rabbitmq-server"], "-detached"], timeout=60)
            run_checked([tools["rabbitmqctl"], "await_startup", "--timeout", str(int(timeout))],
                        timeout=timeout + 10)
        run_checked([tools["rabbitmq-plugins"], "enable", "rabbitmq_stomp"], timeout=timeout)
        wait_until(lambda: _listening(host, port), timeout=timeout, what=f"RabbitMQ STOMP on {host}:{port}")
    broker = StompBroker(host=host, port=port)
    with broker.subscriber(broker.topic("probe")):  # a STOMP login that succeeds
        pass
    return broker


class StompSubscriber:
    """Subscribes to ``destination`` on a STOMP broker and keeps each message's JSON body, in order.

    With ``ca_file`` it speaks TLS and verifies the broker's certificate against that CA.
    """

    def __init__(self, host: str, port: int, destination: str, *, vhost: str = "/",
                 timeout: float = 30, ca_file: Path | str | None = None) -> None:
        stomp = importlib.import_module("stomp")
        self.destination = destination
        #: the decoded bodies received, in order
        self.messages: list[dict[str, Any]] = []
        #: the STOMP headers of each message (``persistent``, ``content-type``, ...)
        self.headers: list[dict[str, str]] = []
        self._cond = threading.Condition()
        self._conn = stomp.Connection12([(host, port)], vhost=vhost, try_loopback_connect=False,
                                        reconnect_attempts_max=1, timeout=timeout)
        if ca_file is not None:
            self._conn.set_ssl(for_hosts=[(host, port)], ca_certs=str(ca_file))
        self._conn.set_listener("test-subscriber", self)
        self._subscribed = threading.Event()
        try:
            self._conn.connect(wait=True)
            self._conn.subscribe(destination, id="1", ack="auto", headers={"receipt": "subscribed"})
        except Exception as exc:
            raise ComponentUnavailable(f"cannot subscribe to {destination} on {host}:{port}: "
                                       f"{exc!r}") from exc
        if not self._subscribed.wait(timeout):
            raise ComponentUnavailable(f"no receipt for the subscription to {destination} on {host}:{port}")

    def on_receipt(self, frame: Any) -> None:
        if frame.headers.get("receipt-id") == "subscribed":
            self._subscribed.set()

    def on_message(self, frame: Any) -> None:
        with self._cond:
            self.messages.append(json.loads(frame.body))
            self.headers.append(dict(frame.headers))
            self._cond.notify_all()

    def wait_for(self, check: Callable[[list[dict[str, Any]]], bool],
                 timeout: float = 30) -> list[dict[str, Any]]:
        """Wait until ``check(messages)`` holds; the messages then. ``AssertionError`` (with what
        came) after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not check(self.messages):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"{self.destination}: expected messages did not arrive in "
                                         f"{timeout} s; got {json.dumps(self.messages)[:3000]}")
                self._cond.wait(left)
            return list(self.messages)

    def close(self) -> None:
        """Unsubscribe and disconnect."""
        try:
            self._conn.disconnect()
        finally:
            self._conn.transport.disconnect_socket()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

"""A TCP forwarder that a test switches off and on: a broker (or any server) that goes away and returns.

:class:`TcpProxy` listens on a loopback port and forwards every connection to a target. Its
:meth:`~TcpProxy.stop` closes the listening socket AND every forwarded connection, so clients see
exactly what a crashed server gives them (connection reset, then refused); :meth:`~TcpProxy.start`
listens again on the same port. The real server is never touched.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Self

__all__ = ["TcpProxy"]


class TcpProxy:
    """Forwards ``127.0.0.1:port`` to ``target``; not listening until :meth:`start` (or ``with``)."""

    def __init__(self, target_host: str, target_port: int, *, port: int = 0) -> None:
        self.target = (target_host, target_port)
        self.port = port
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._running = False
        #: connections accepted since the proxy was built
        self.accepted = 0

    def __repr__(self) -> str:
        state = "listening" if self._running else "stopped"
        return f"TcpProxy(127.0.0.1:{self.port} -> {self.target[0]}:{self.target[1]}, {state})"

    @property
    def running(self) -> bool:
        """Whether it listens."""
        return self._running

    def start(self) -> None:
        """Listen (on the same port as before, if it ran before) and forward connections."""
        if self._running:
            return
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        listener.settimeout(0.1)  # the accept loop looks at ``_running`` this often
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._running = True
        self._spawn(self._accept_loop, listener)

    def stop(self) -> None:
        """Stop listening and cut every forwarded connection; wait for the forwarding threads."""
        with self._lock:
            self._running = False
            listener, self._listener = self._listener, None
            sockets, self._sockets = set(self._sockets), set()
        for sock in sockets:
            _close(sock)
        for thread in list(self._threads):
            thread.join(timeout=5)
        self._threads = [t for t in self._threads if t.is_alive()]
        if listener is not None:
            _close(listener)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- inside ------------------------------------------------------------------------

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name=f"tcp-proxy-{self.port}")
        self._threads.append(thread)
        thread.start()

    def _accept_loop(self, listener: socket.socket) -> None:
        while self._running:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                if not self._running:
                    _close(client)
                    _close(upstream)
                    return
                self._sockets.update((client, upstream))
                self.accepted += 1
            self._spawn(self._pump, client, upstream)
            self._spawn(self._pump, upstream, client)

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()

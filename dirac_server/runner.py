"""Serving the app with uvicorn: in the foreground (``dirac-core server``) or on a thread.

:func:`running` binds the socket before the thread starts, so the URL it
yields accepts connections at once (they wait in the listen backlog until
uvicorn takes them): no polling for readiness.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

__all__ = ["bind", "running", "serve", "url_of"]


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket (port 0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # accepted connections inherit it: without it a response written in two parts (head, body)
    # waits for the client's delayed ACK, ~40 ms a request (seen here on loopback)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _server(app: FastAPI, *, log_level: str = "warning", own_logging: bool = True) -> uvicorn.Server:
    extra: dict[str, Any] = {} if own_logging else {"log_config": None}
    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="on",
                            timeout_keep_alive=30, backlog=2048, **extra)
    return uvicorn.Server(config)


def serve(app: FastAPI, sock: socket.socket, *, log_level: str = "info", own_logging: bool = True) -> None:
    """Serve ``app`` on ``sock`` until interrupted. ``own_logging`` False leaves uvicorn's loggers
    to the handlers the application configured (``dirac_core.logs.configure_logging``)."""
    _server(app, log_level=log_level, own_logging=own_logging).run(sockets=[sock])


def url_of(sock: socket.socket) -> str:
    """The base URL of a bound socket (``http://host:port``)."""
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


@contextmanager
def running(app: FastAPI, sock: socket.socket | None = None) -> Iterator[str]:
    """Serve ``app`` on a thread for the ``with`` block (on ``sock``, or a new loopback
    socket); yields its base URL. The socket is closed at the end."""
    sock = sock or bind()
    server = _server(app)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]},
                              name="dirac-server", daemon=True)
    thread.start()
    try:
        yield url_of(sock)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()

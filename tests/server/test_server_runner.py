"""``dirac_server.runner``: the listening socket and the served app's lifespan."""

from __future__ import annotations

import socket
import threading
from datetime import timedelta

import httpx

from dirac_core.interware import Interware
from dirac_server import ServerSettings, create_app
from dirac_server.runner import bind, running


def test_the_socket_sends_small_responses_at_once() -> None:
    sock = bind()
    try:
        # without TCP_NODELAY a response written in two parts waits ~40 ms for a delayed ACK
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        sock.close()


class _Once:
    name = "test.once"
    interval = timedelta(hours=1)

    def __init__(self) -> None:
        self.ran = threading.Event()

    def run_once(self) -> int:
        self.ran.set()
        return 0


def test_a_served_app_runs_its_periodic_tasks(iw: Interware) -> None:
    task = _Once()
    iw.add_task(task)
    with running(create_app(iw, ServerSettings(tasks_every=0.01))) as url:
        assert httpx.get(f"{url}/api/health/live").status_code == 200
        assert task.ran.wait(timeout=30), "the served app did not start its task thread"

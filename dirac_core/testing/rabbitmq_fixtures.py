"""Pytest fixtures around a real RabbitMQ STOMP listener (:mod:`dirac_core.testing.rabbitmq`).

- ``stomp_broker`` (session): a :class:`~dirac_core.testing.rabbitmq.StompBroker`, RabbitMQ's
  STOMP listener on 127.0.0.1:61613, its plugin enabled (and the node started) if needed. Tests
  keep apart by using their own destinations (:meth:`StompBroker.topic`).
- ``stomp_tls_broker`` (session): the same broker's STOMP listener over TLS on 127.0.0.1:61614,
  with its ``ca_file`` and a ``client`` certificate it accepts (:mod:`dirac_core.testing.rabbitmq_tls`:
  a test CA, ``rabbitmq.conf`` and a listener started in the running node if needed).

Use it from a root ``conftest.py`` with ``pytest_plugins = ["dirac_core.testing.rabbitmq_fixtures"]``.
When stomp.py is missing or the broker cannot be provided, tests using it are skipped, except
when ``CI=true``: then they fail (:func:`~dirac_core.testing.databases.skip_or_fail`).
"""

from __future__ import annotations

import pytest

from dirac_core.testing.databases import skip_or_fail
from dirac_core.testing.rabbitmq import ComponentUnavailable, StompBroker, ensure_stomp
from dirac_core.testing.rabbitmq_tls import ensure_stomp_tls

__all__ = ["stomp_broker", "stomp_tls_broker"]


@pytest.fixture(scope="session")
def stomp_broker() -> StompBroker:
    """RabbitMQ's STOMP listener for the whole session (skipped, or failed in CI, when unavailable)."""
    try:
        return ensure_stomp()
    except ComponentUnavailable as exc:
        skip_or_fail(f"RabbitMQ STOMP unavailable: {exc}")
        raise  # pragma: no cover - skip_or_fail never returns


@pytest.fixture(scope="session")
def stomp_tls_broker() -> StompBroker:
    """RabbitMQ's STOMP listener over TLS for the whole session (skipped, or failed in CI, when
    unavailable)."""
    try:
        return ensure_stomp_tls()
    except ComponentUnavailable as exc:
        skip_or_fail(f"RabbitMQ STOMP over TLS unavailable: {exc}")
        raise  # pragma: no cover - skip_or_fail never returns

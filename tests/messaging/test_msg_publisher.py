"""The publisher: never blocks or fails the caller; buffers on disk while the broker is away; in order."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from dirac_core.messaging import DiskBuffer, Publisher
from dirac_core.testing.memory_queue import MemoryQueue


@pytest.fixture
def broker() -> MemoryQueue:
    return MemoryQueue()


@pytest.fixture
def publisher(broker: MemoryQueue, tmp_path: Path) -> Iterator[Publisher]:
    pub = Publisher(broker, DiskBuffer(tmp_path / "buffer"), retry_initial=0.01, retry_max=0.05)
    yield pub
    pub.close(timeout=5)


def _numbers(broker: MemoryQueue) -> list[int]:
    return [m["n"] for _, m in broker.sent]


def test_messages_reach_the_broker_in_order(publisher: Publisher, broker: MemoryQueue) -> None:
    for n in range(50):
        assert publisher.publish("/topic/a" if n % 2 else "/topic/b", {"n": n}) is True
    assert broker.wait_for(50)
    assert _numbers(broker) == list(range(50))
    assert [d for d, _ in broker.sent[:2]] == ["/topic/b", "/topic/a"]
    stats = publisher.stats()
    assert (stats.published, stats.sent, stats.buffered, stats.connected) == (50, 50, 0, True)


def test_while_the_broker_is_down_messages_wait_on_disk_then_go_in_order(
        publisher: Publisher, broker: MemoryQueue, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    publisher.publish("/topic/a", {"n": 0})
    assert broker.wait_for(1)
    broker.available = False
    for n in range(1, 40):
        assert publisher.publish("/topic/a", {"n": n}) is True  # the caller is never refused
    assert publisher.wait_idle(10)
    assert len(publisher.buffer) == 39 and _numbers(broker) == [0]
    assert [m["n"] for _, m in publisher.buffer.peek(100)] == list(range(1, 40))
    assert "message broker unreachable" in caplog.text and str(tmp_path / "buffer") in caplog.text
    assert publisher.stats().connected is False
    broker.available = True
    publisher.publish("/topic/a", {"n": 40})  # newer than what waits on disk: sent after it
    assert publisher.flush(10)
    assert _numbers(broker) == list(range(41))
    assert len(publisher.buffer) == 0 and publisher.stats().connected is True
    assert "reachable again" in caplog.text


def test_the_sender_retries_with_back_off_by_itself(publisher: Publisher, broker: MemoryQueue) -> None:
    broker.available = False
    publisher.publish("/topic/a", {"n": 1})
    assert publisher.wait_idle(10) and len(publisher.buffer) == 1
    tried = broker.attempts
    broker.available = True  # no retry_now: the back-off (10 ms doubling to 50 ms) brings it
    assert broker.wait_for(1, timeout=10)
    assert broker.attempts > tried


def test_a_refused_message_is_dropped_and_the_others_go_on(tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    broker = MemoryQueue(refuse=["/bad"])
    pub = Publisher(broker, DiskBuffer(tmp_path))
    try:
        pub.publish("/good", {"n": 1, "id": "x1", "type": "t"})
        pub.publish("/bad", {"n": 2, "id": "x2", "type": "t"})
        pub.publish("/good", {"n": 3, "id": "x3", "type": "t"})
        assert pub.flush(10)
        assert _numbers(broker) == [1, 3]
        assert pub.stats().rejected == 1 and "x2" in caplog.text and "refused" in caplog.text
    finally:
        pub.close()


class _Gate(MemoryQueue):
    """A broker that takes each message only when the test opens the gate (a stuck connection)."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.entered = threading.Event()

    def publish(self, destination: str, message: Mapping[str, Any]) -> None:
        self.entered.set()
        self.gate.wait(30)
        super().publish(destination, message)


def test_a_full_memory_queue_drops_the_new_message_and_says_so(tmp_path: Path,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    broker = _Gate()
    pub = Publisher(broker, DiskBuffer(tmp_path), queue_size=3)
    try:
        pub.publish("/t", {"n": 0})
        assert broker.entered.wait(10)  # the sender is stuck on message 0
        assert [pub.publish("/t", {"n": n}) for n in range(1, 6)] == [True, True, True, False, False]
        assert pub.stats().dropped_queue_full == 2 and "message queue full" in caplog.text
        broker.gate.set()
        assert pub.flush(10)
        assert _numbers(broker) == [0, 1, 2, 3]
    finally:
        broker.gate.set()
        pub.close()


def test_past_the_buffer_limit_the_oldest_are_dropped_with_a_warning(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    broker = MemoryQueue(available=False)
    pub = Publisher(broker, DiskBuffer(tmp_path, limit=10, segment_size=2), retry_initial=60)
    try:
        for n in range(15):
            pub.publish("/t", {"n": n})
            assert pub.wait_idle(10)  # one message per turn: drops happen message by message
        # the 11th, 13th and 15th message each pushed out the oldest segment (two messages)
        assert pub.stats().dropped_buffer_full == 6 and len(pub.buffer) == 9
        assert "is full (limit 10 messages): dropped the 2 oldest" in caplog.text
        broker.available = True
        assert pub.flush(10)
        assert _numbers(broker) == list(range(6, 15))
    finally:
        pub.close()


def test_what_is_on_disk_at_close_is_sent_by_the_next_publisher(tmp_path: Path) -> None:
    down = MemoryQueue(available=False)
    first = Publisher(down, DiskBuffer(tmp_path), retry_initial=60)
    for n in range(5):
        first.publish("/t", {"n": n})
    first.close(timeout=5)
    assert down.closed and first.publish("/t", {"n": 99}) is False  # closed: refused, not raised
    broker = MemoryQueue()
    second = Publisher(broker, DiskBuffer(tmp_path))
    try:
        second.publish("/t", {"n": 5})
        assert second.flush(10)
        assert _numbers(broker) == [0, 1, 2, 3, 4, 5]
    finally:
        second.close()


def test_close_with_the_broker_down_returns_at_once_and_keeps_everything(tmp_path: Path) -> None:
    down = MemoryQueue(available=False)
    pub = Publisher(down, DiskBuffer(tmp_path), retry_initial=60)
    for n in range(100):
        pub.publish("/t", {"n": n})
    pub.close(timeout=10)
    assert len(DiskBuffer(tmp_path)) == 100


class _Broken(MemoryQueue):
    def publish(self, destination: str, message: Mapping[str, Any]) -> None:
        if self.available:
            raise RuntimeError("driver bug")
        super().publish(destination, message)


def test_a_driver_bug_keeps_the_messages(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    broker = _Broken()
    pub = Publisher(broker, DiskBuffer(tmp_path), retry_initial=60)
    try:
        pub.publish("/t", {"n": 1})
        assert pub.wait_idle(10)
        assert len(pub.buffer) == 1 and "driver bug" in caplog.text
    finally:
        pub.close()

"""The disk buffer: ordered, durable across reopening, size-limited by dropping the oldest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dirac_core.messaging import DiskBuffer


def _items(start: int, stop: int) -> list[tuple[str, dict[str, int]]]:
    return [("/topic/t", {"n": n}) for n in range(start, stop)]


def _drain(buffer: DiskBuffer) -> list[int]:
    out = []
    while len(buffer):
        chunk = buffer.peek(7)
        out += [m["n"] for _, m in chunk]
        buffer.ack(len(chunk))
    return out


def test_messages_come_out_in_order_across_segments(tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path, limit=1000, segment_size=10)
    buffer.append(_items(0, 25))
    buffer.append(_items(25, 31))
    assert len(buffer) == 31
    assert len(list(tmp_path.glob("*.jsonl"))) == 4
    assert _drain(buffer) == list(range(31))
    assert list(tmp_path.glob("*.jsonl")) == []  # sent segments are deleted


def test_lines_are_json_with_destination_and_message(tmp_path: Path) -> None:
    DiskBuffer(tmp_path).append([("/queue/q", {"type": "job.status", "job_ids": [1]})])
    [segment] = tmp_path.glob("*.jsonl")
    assert [json.loads(line) for line in segment.read_text().splitlines()] == [
        {"destination": "/queue/q", "message": {"type": "job.status", "job_ids": [1]}}]


def test_a_reopened_buffer_goes_on_where_the_last_one_stopped(tmp_path: Path) -> None:
    first = DiskBuffer(tmp_path, limit=1000, segment_size=10)
    first.append(_items(0, 15))
    first.ack(4)  # four sent before the process stopped
    second = DiskBuffer(tmp_path, limit=1000, segment_size=10)
    assert len(second) == 11
    second.append(_items(15, 18))
    assert _drain(second) == list(range(4, 18))


def test_a_half_written_last_line_is_dropped_and_appending_goes_on(tmp_path: Path,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    DiskBuffer(tmp_path).append(_items(0, 2))
    [segment] = tmp_path.glob("*.jsonl")
    with segment.open("a") as out:
        out.write('{"destination": "/topic/t", "mess')  # the crash came in the middle of a write
    reopened = DiskBuffer(tmp_path)
    assert len(reopened) == 2
    assert "half-written" in caplog.text
    reopened.append(_items(2, 3))
    assert _drain(reopened) == [0, 1, 2]


def test_past_the_limit_the_oldest_segment_is_dropped_and_counted(tmp_path: Path) -> None:
    buffer = DiskBuffer(tmp_path, limit=20, segment_size=5)
    assert buffer.append(_items(0, 20)) == 0
    assert buffer.append(_items(20, 23)) == 5  # one whole segment, the oldest
    assert buffer.dropped == 5 and len(buffer) == 18
    assert _drain(buffer) == list(range(5, 23))


def test_the_default_segment_is_a_tenth_of_the_limit(tmp_path: Path) -> None:
    assert DiskBuffer(tmp_path / "a", limit=100_000).segment_size == 1000
    assert DiskBuffer(tmp_path / "b", limit=50).segment_size == 5
    assert DiskBuffer(tmp_path / "c", limit=3).segment_size == 1
    with pytest.raises(ValueError, match="at least one"):
        DiskBuffer(tmp_path / "d", limit=0)

"""An interware's events become messages: a real job, pilot events, data operations and a request,
on every backend; with the broker away, jobs still run and the messages wait on disk, in order."""

from __future__ import annotations

import json
from pathlib import Path

from msg_helpers import JOB_PATH, job_statuses, make_interware, replicate_request, run_job

from dirac_core.db import Database
from dirac_core.testing.memory_queue import MemoryQueue

LFN = "/demo/user/a/alice/msg/f1.dat"


def _memory(root: Path) -> str:
    return f'[messaging]\ntype = "memory"\nbuffer_dir = "{root}/buffer"\nretry_initial = 0.01\n'


def test_job_pilot_data_and_request_messages(database: Database, tmp_path: Path) -> None:
    with make_interware(database, tmp_path / "site", _memory(tmp_path)) as iw:
        assert iw.messaging is not None
        broker: MemoryQueue = iw.messaging.publisher.queue  # type: ignore[assignment]
        job_id = run_job(iw, tmp_path / "node")
        alice = iw.identity("alice")
        source = tmp_path / "f1.dat"
        source.write_bytes(b"payload")
        dm = iw.data_manager(alice)
        dm.put_and_register(LFN, source, "Embedded-SE")
        dm.replicate_and_register(LFN, "Embedded-SE2")
        dm.remove_replica(LFN, "Embedded-SE2")
        rid = replicate_request(iw, LFN, "Embedded-SE2")
        iw.request_executor.run_once()
        assert iw.messaging.publisher.flush(30)
    by_destination: dict[str, list[dict]] = {}
    for destination, message in broker.sent:
        by_destination.setdefault(destination, []).append(message)
        assert (message["schema"], message["vo"]) == (1, "demo")
        assert len(message["id"]) == 32 and message["time"].endswith("+00:00")
    jobs = by_destination["/topic/dirac.jobs"]
    assert job_statuses(jobs, job_id) == JOB_PATH
    assert {m["source"] for m in jobs} >= {"JobManager", "Matcher", "JobWrapper"}
    pilots = by_destination["/topic/dirac.pilots"]
    stamp = f"pilot-of-{job_id}-node"
    assert [(m["type"], m["pilot_stamp"], m["status"]) for m in pilots] == [
        ("pilot.registered", stamp, "Submitted"), ("pilot.started", stamp, "Running"),
        ("pilot.ended", stamp, "Done")]
    assert (pilots[0]["site"], pilots[0]["grid_type"]) == ("DIRAC.Embedded.local", "Local")
    assert (pilots[2]["old_status"], pilots[2]["reason"]) == ("Running", "1 job(s), no more work")
    data = by_destination["/topic/dirac.data"]
    assert [m["type"] for m in data] == ["data.registered", "data.replicated", "data.replicated"]
    assert data[0]["lfns"] == [LFN] and data[0]["files"][0]["se"] == "Embedded-SE"
    assert data[0]["files"][0]["size"] == 7
    assert {k: data[1][k] for k in ("lfns", "source_se", "target_se")} == {
        "lfns": [LFN], "source_se": "Embedded-SE", "target_se": "Embedded-SE2"}
    [done] = by_destination["/topic/dirac.requests"]
    assert (done["type"], done["request_id"], done["status"], done["owner"]) == ("request.done", rid, "Done",
                                                                                "alice")
    assert done["operations"] == [{"type": "ReplicateAndRegister", "status": "Done"}]


def test_with_the_broker_away_jobs_run_and_messages_wait_on_disk_in_order(database: Database,
                                                                          tmp_path: Path) -> None:
    with make_interware(database, tmp_path / "site", _memory(tmp_path) + "retry_max = 0.05\n") as iw:
        assert iw.messaging is not None
        publisher = iw.messaging.publisher
        broker: MemoryQueue = publisher.queue  # type: ignore[assignment]
        broker.available = False
        job_id = run_job(iw, tmp_path / "node")  # Done, whatever the broker does
        assert iw.wms.get_jobs([job_id])[job_id]["status"] == "Done"
        assert publisher.wait_idle(30)
        waiting = [json.loads(line) for segment in sorted((tmp_path / "buffer").glob("*.jsonl"))
                   for line in segment.read_text().splitlines()]
        assert job_statuses([w["message"] for w in waiting], job_id) == JOB_PATH
        assert broker.sent == []
        broker.available = True  # back: the back-off brings the messages, the oldest first
        assert publisher.flush(30)
    assert [m["id"] for _, m in broker.sent] == [w["message"]["id"] for w in waiting]
    assert not list((tmp_path / "buffer").glob("*.jsonl"))


def test_a_kind_with_no_destination_is_not_published(database: Database, tmp_path: Path) -> None:
    section = _memory(tmp_path) + '[messaging.destinations]\npilot_event = ""\ndata_operation = ""\n'
    with make_interware(database, tmp_path / "site", section) as iw:
        assert iw.messaging is not None
        run_job(iw, tmp_path / "node")
        assert iw.messaging.publisher.flush(30)
        sent = iw.messaging.publisher.queue.sent  # type: ignore[attr-defined]
    assert {d for d, _ in sent} == {"/topic/dirac.jobs"}


def test_the_logfile_driver_writes_one_json_line_per_message(database: Database, tmp_path: Path) -> None:
    out = tmp_path / "log" / "messages.jsonl"
    section = (f'[messaging]\ntype = "logfile"\nbuffer_dir = "{tmp_path}/buffer"\n'
               f'options = {{ path = "{out}", fsync = true }}\n')
    with make_interware(database, tmp_path / "site", section) as iw:
        job_id = run_job(iw, tmp_path / "node")
    # closing the interware sent what the publisher held
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert job_statuses(lines, job_id) == JOB_PATH
    assert {line["destination"] for line in lines} == {"/topic/dirac.jobs", "/topic/dirac.pilots"}
    assert all(list(line)[:6] == ["destination", "schema", "type", "id", "time", "vo"] for line in lines)

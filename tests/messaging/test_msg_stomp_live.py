"""The stomp driver against a real RabbitMQ (STOMP plugin): a real job's state changes, pilot events
and a replication arrive at a subscriber; the broker goes away (a TCP proxy stopped) and returns:
jobs run to Done meanwhile, the messages wait on disk and arrive in order afterwards."""

from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path

import pytest
from msg_helpers import JOB_PATH, job_statuses, make_interware, run_job

from dirac_core.db import Database
from dirac_core.errors import BrokerUnavailable, MessagingError
from dirac_core.logs import JsonFormatter
from dirac_core.messaging.stomp import StompQueue
from dirac_core.testing._daemons import free_port
from dirac_core.testing.rabbitmq import StompBroker
from dirac_core.testing.tcp_proxy import TcpProxy

LFN = "/demo/user/a/alice/stomp/f1.dat"


def _section(tmp_path: Path, port: int, topics: dict[str, str]) -> str:
    destinations = "\n".join(f'{kind} = "{topic}"' for kind, topic in topics.items())
    return (f'[messaging]\ntype = "stomp"\nbuffer_dir = "{tmp_path}/buffer"\nretry_initial = 0.05\n'
            f'retry_max = 0.2\noptions = {{ host = "127.0.0.1", port = {port}, timeout = 5 }}\n'
            f"[messaging.destinations]\n{destinations}\n")


def test_job_pilot_and_data_messages_reach_a_subscriber(database: Database, stomp_broker: StompBroker,
                                                        tmp_path: Path) -> None:
    topics = {kind: stomp_broker.topic(kind) for kind in ("job_status", "pilot_event", "data_operation")}
    with stomp_broker.subscriber(topics["job_status"]) as jobs, \
            stomp_broker.subscriber(topics["pilot_event"]) as pilots, \
            stomp_broker.subscriber(topics["data_operation"]) as data, \
            make_interware(database, tmp_path / "site", _section(tmp_path, stomp_broker.port, topics)) as iw:
        job_id = run_job(iw, tmp_path / "node")
        source = tmp_path / "f1.dat"
        source.write_bytes(b"payload")
        dm = iw.data_manager(iw.identity("alice"))
        dm.put_and_register(LFN, source, "Embedded-SE")
        dm.replicate_and_register(LFN, "Embedded-SE2")
        got = jobs.wait_for(lambda ms: ("Completing", "Done") in job_statuses(ms, job_id))
        assert job_statuses(got, job_id) == JOB_PATH
        assert all(m["vo"] == "demo" and m["schema"] == 1 for m in got)
        assert {(h["persistent"], h["content-type"]) for h in jobs.headers} == {("true", "application/json")}
        events = pilots.wait_for(lambda ms: len(ms) >= 3)
        assert [m["type"] for m in events] == ["pilot.registered", "pilot.started", "pilot.ended"]
        moved = data.wait_for(lambda ms: len(ms) >= 2)
        assert [(m["type"], m["lfns"]) for m in moved] == [("data.registered", [LFN]),
                                                          ("data.replicated", [LFN])]
        assert (moved[1]["source_se"], moved[1]["target_se"]) == ("Embedded-SE", "Embedded-SE2")
        stats = iw.messaging.publisher.stats()  # type: ignore[union-attr]
        assert stats.buffered == 0 and stats.connected


def test_broker_away_then_back_jobs_unaffected_messages_in_order(database: Database,
                                                                 stomp_broker: StompBroker,
                                                                 tmp_path: Path) -> None:
    topics = {"job_status": stomp_broker.topic("jobs"), "pilot_event": stomp_broker.topic("pilots")}
    with TcpProxy(stomp_broker.host, stomp_broker.port) as proxy, \
            stomp_broker.subscriber(topics["job_status"]) as jobs, \
            make_interware(database, tmp_path / "site", _section(tmp_path, proxy.port, topics)) as iw:
        assert iw.messaging is not None
        publisher = iw.messaging.publisher
        first = run_job(iw, tmp_path / "node1")
        jobs.wait_for(lambda ms: ("Completing", "Done") in job_statuses(ms, first))
        before = len(jobs.messages)

        proxy.stop()  # the broker goes away: the connection is cut, new ones are refused
        second = run_job(iw, tmp_path / "node2")  # runs to Done all the same
        assert iw.wms.get_jobs([second])[second]["status"] == "Done"
        assert publisher.wait_idle(60)
        waiting = [json.loads(line)["message"] for segment in sorted((tmp_path / "buffer").glob("*.jsonl"))
                   for line in segment.read_text().splitlines()]
        assert job_statuses(waiting, second) == JOB_PATH
        assert publisher.stats().connected is False and len(jobs.messages) == before

        proxy.start()  # back on the same port: the back-off finds it, the buffer goes first, in order
        jobs.wait_for(lambda ms: ("Completing", "Done") in job_statuses(ms, second), timeout=60)
        expected = [m["id"] for m in waiting if m["type"] == "job.status"]
        assert [m["id"] for m in jobs.messages[before:]] == expected
        assert publisher.flush(30) and not list((tmp_path / "buffer").glob("*.jsonl"))
        assert proxy.accepted >= 2  # the publisher connected again


def test_a_message_is_confirmed_or_refused_and_an_absent_broker_is_unavailable(
        stomp_broker: StompBroker) -> None:
    topic = stomp_broker.topic("driver")
    with stomp_broker.subscriber(topic) as sub, StompQueue(host=stomp_broker.host, port=stomp_broker.port,
                                                           timeout=5) as queue:
        queue.publish(topic, {"n": 1})  # returns once the broker's receipt came
        with pytest.raises(MessagingError, match="refused a message to /nowhere/x") as refused:
            queue.publish("/nowhere/x", {"n": 2})
        assert not isinstance(refused.value, BrokerUnavailable)
        queue.publish(topic, {"n": 3})  # a new connection after the broker's ERROR
        assert [m["n"] for m in sub.wait_for(lambda ms: len(ms) >= 2)] == [1, 3]
    with pytest.raises(BrokerUnavailable, match=r"cannot connect to the STOMP broker 127\.0\.0\.1:\d+"):
        StompQueue(port=free_port(), timeout=2).publish(topic, {"n": 4})


def test_a_wrong_password_is_refused_and_never_logged(stomp_broker: StompBroker, tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    password = "mq-Passw0rd-" + secrets.token_hex(8)
    (tmp_path / "mq-password").write_text(password + "\n")
    caplog.set_level(logging.DEBUG)
    queue = StompQueue(host=stomp_broker.host, port=stomp_broker.port, user="guest",
                       password_file=str(tmp_path / "mq-password"), timeout=5)
    with pytest.raises(BrokerUnavailable, match="refused the connection") as caught:
        queue.publish(stomp_broker.topic("x"), {"n": 1})
    queue.close()
    formatter = JsonFormatter()
    logged = "\n".join(formatter.format(record) for record in caplog.records)
    assert "stomp.py" in logged  # the client library's DEBUG lines were captured (the frames sent)
    assert password not in logged and password not in str(caught.value) and password not in repr(queue)

"""The stomp driver over TLS against the real RabbitMQ (its STOMP TLS listener, 61614): messages
arrive through the configured driver; a broker certificate of another CA is refused, the messages
wait on disk and nothing leaks; a client certificate of another CA is refused by the broker; the
host name is checked unless told not to; wrong TLS files are configuration errors at start."""

from __future__ import annotations

import json
import logging
import secrets
from pathlib import Path

import pytest

from dirac_core.config import load_config
from dirac_core.db import Database
from dirac_core.errors import BrokerUnavailable, ConfigError
from dirac_core.logs import JsonFormatter
from dirac_core.messaging import start_messaging
from dirac_core.messaging.stomp import StompQueue
from dirac_core.messaging.wiring import Messaging
from dirac_core.model import FakeClock
from dirac_core.plugins.manager import make_plugin_manager
from dirac_core.testing.pki import TestCA
from dirac_core.testing.rabbitmq import StompBroker

Options = dict[str, str | int | bool]


def _messaging(tmp_path: Path, options: Options, topic: str, *, retry_initial: float = 0.05) -> Messaging:
    """The messaging of a [messaging] section (the stomp driver with ``options``, job messages
    to ``topic``), built as an interware builds it."""
    table = ", ".join(f"{key} = {json.dumps(value)}" for key, value in options.items())
    cfg = load_config(f'[messaging]\ntype = "stomp"\nbuffer_dir = "{tmp_path}/buffer"\n'
                      f"retry_initial = {retry_initial}\nretry_max = {max(retry_initial, 0.2)}\n"
                      f"options = {{ {table} }}\n[messaging.destinations]\njob_status = \"{topic}\"\n",
                      format="toml")
    messaging = start_messaging(cfg.messaging, hooks=make_plugin_manager(()), database=Database("sqlite://"),
                                clock=FakeClock())
    assert messaging is not None
    return messaging


def test_messages_published_over_tls_reach_a_subscriber(stomp_tls_broker: StompBroker,
                                                        tmp_path: Path) -> None:
    assert stomp_tls_broker.client is not None
    topic = stomp_tls_broker.topic("tls")
    options: Options = {**stomp_tls_broker.driver_options(), "timeout": 5,
                        "cert_file": str(stomp_tls_broker.client.cert),
                        "key_file": str(stomp_tls_broker.client.key)}
    assert options["tls"] is True and options["port"] == 61614
    with stomp_tls_broker.subscriber(topic) as sub:  # a TLS subscriber of its own
        messaging = _messaging(tmp_path, options, topic)
        try:
            queue = messaging.publisher.queue
            assert isinstance(queue, StompQueue) and queue.tls is not None
            for n in range(3):
                assert messaging.publish("job_status", {"n": n})
            assert messaging.publisher.flush(30)
            stats = messaging.publisher.stats()
            assert (stats.sent, stats.buffered, stats.connected) == (3, 0, True)
        finally:
            messaging.close()
        assert [m["n"] for m in sub.wait_for(lambda ms: len(ms) >= 3)] == [0, 1, 2]
        assert {h["content-type"] for h in sub.headers} == {"application/json"}


def test_a_broker_certificate_of_another_ca_is_refused_and_the_messages_wait(
        stomp_tls_broker: StompBroker, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert stomp_tls_broker.client is not None
    other = TestCA(tmp_path / "other-ca", dn_prefix=("org", "other-test"))
    password = "mq-Passw0rd-" + secrets.token_hex(8)
    (tmp_path / "mq-password").write_text(password + "\n")
    topic = stomp_tls_broker.topic("refused")
    options: Options = {**stomp_tls_broker.driver_options(), "timeout": 5, "ca_file": str(other.files.cert),
                        "user": "guest", "password_file": str(tmp_path / "mq-password"),
                        "cert_file": str(stomp_tls_broker.client.cert),
                        "key_file": str(stomp_tls_broker.client.key)}
    caplog.set_level(logging.DEBUG)
    with stomp_tls_broker.subscriber(topic) as sub:
        messaging = _messaging(tmp_path, options, topic, retry_initial=60)
        try:
            assert messaging.publish("job_status", {"n": 1}) and messaging.publish("job_status", {"n": 2})
            assert messaging.publisher.wait_idle(30)
            stats = messaging.publisher.stats()
            assert (stats.sent, stats.buffered, stats.connected) == (0, 2, False)
        finally:
            messaging.close()
        assert sub.messages == []  # the publisher never got a connection: nothing was sent

        reports = [r.getMessage() for r in caplog.records
                   if r.name == "dirac_core.messaging.publisher" and r.levelno == logging.WARNING]
        assert any("message broker unreachable (cannot connect to the STOMP broker 127.0.0.1:61614 over TLS: "
                   "the broker's certificate was not accepted: " in text for text in reports), reports
        logged = "\n".join(JsonFormatter().format(record) for record in caplog.records)
        assert password not in logged
        key_lines = stomp_tls_broker.client.key.read_text().splitlines()[1:-1]  # the key's base64 body
        assert len(key_lines) > 10 and not any(line in logged for line in key_lines)

        # nothing lost: with the broker's own CA the same buffer is delivered, in order
        messaging = _messaging(tmp_path, {**stomp_tls_broker.driver_options(), "timeout": 5}, topic)
        try:
            assert messaging.publisher.flush(30)
        finally:
            messaging.close()
        assert [m["n"] for m in sub.wait_for(lambda ms: len(ms) >= 2)] == [1, 2]


def test_a_client_certificate_of_another_ca_is_refused_by_the_broker(stomp_tls_broker: StompBroker,
                                                                     tmp_path: Path) -> None:
    stranger = TestCA(tmp_path / "other-ca", dn_prefix=("org", "other-test")).user_cert("Stranger")
    queue = StompQueue(**stomp_tls_broker.driver_options(), cert_file=str(stranger.cert),
                       key_file=str(stranger.key), timeout=5)
    with pytest.raises(BrokerUnavailable, match=r"127\.0\.0\.1:61614 over TLS: the broker refused the TLS "
                                                r"handshake \(\w*ALERT\w*\)"):
        queue.publish(stomp_tls_broker.topic("stranger"), {"n": 1})
    queue.close()


@pytest.mark.filterwarnings("ignore:ssl.PROTOCOL_TLS is deprecated:DeprecationWarning")
def test_the_broker_must_name_the_host_dialled_unless_told_not_to(stomp_tls_broker: StompBroker) -> None:
    # 127.0.0.2 reaches the same listener (all of 127/8 is loopback), but the broker's
    # certificate names only 127.0.0.1 and localhost
    options: Options = {**stomp_tls_broker.driver_options(), "host": "127.0.0.2", "timeout": 5}
    topic = stomp_tls_broker.topic("names")
    with stomp_tls_broker.subscriber(topic) as sub:
        checked = StompQueue(**options)
        with pytest.raises(BrokerUnavailable, match=r"127\.0\.0\.2:61614 over TLS: the broker's certificate "
                                                    r"was not accepted: IP address mismatch"):
            checked.publish(topic, {"n": 1})
        checked.close()
        unchecked = StompQueue(**options, verify_hostname=False)
        unchecked.publish(topic, {"n": 2})  # the CA is still verified (see the test above)
        unchecked.close()
        assert [m["n"] for m in sub.wait_for(lambda ms: len(ms) >= 1)] == [2]


def test_wrong_tls_files_are_configuration_errors_naming_the_option(tmp_path: Path) -> None:
    ca = TestCA(tmp_path / "ca")
    client = ca.user_cert()
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    missing = tmp_path / "nowhere" / "ca.pem"
    topic = "/topic/never-used"
    cases: list[tuple[Options, str]] = [
        ({"tls": True, "ca_file": str(missing)},
         rf"messaging\.options\.ca_file: cannot read {missing}: No such file or directory"),
        ({"tls": True, "ca_file": str(tmp_path / "junk.pem")},
         r"messaging\.options\.ca_file: .*junk\.pem: no CA certificate in PEM"),
        ({"tls": True, "cert_file": str(client.cert), "key_file": str(tmp_path / "nowhere.pem")},
         r"messaging\.options\.key_file: cannot read .*nowhere\.pem: No such file or directory"),
        ({"tls": True, "cert_file": str(client.cert), "key_file": str(ca.files.key)},
         r"messaging\.options\.cert_file: .*usercert\.pem with key_file .*ca-key\.pem: not a certificate "
         r"and its private key in PEM \(KEY_VALUES_MISMATCH\)"),
        ({"tls": True, "key_file": str(client.key)},
         r"messaging\.options\.key_file: given without cert_file"),
        ({"ca_file": str(ca.files.cert)}, r"messaging\.options\.ca_file: given, but tls is false"),
        ({"tls": "yes"}, r"messaging\.options\.tls: expected true or false, got 'yes'"),
    ]
    for options, expected in cases:
        with pytest.raises(ConfigError, match=expected) as caught:  # when the messaging is built
            _messaging(tmp_path, options, topic)
        for key in (client.key, ca.files.key):
            assert not any(line in str(caught.value) for line in key.read_text().splitlines()[1:-1])

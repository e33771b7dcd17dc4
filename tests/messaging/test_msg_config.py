"""The [messaging] section: defaults, validation with key paths, the driver's options."""

from __future__ import annotations

from pathlib import Path

import pluggy
import pytest

from dirac_core.config import load_config
from dirac_core.db import Database
from dirac_core.errors import ConfigError, PluginNotFound
from dirac_core.messaging import start_messaging
from dirac_core.model import FakeClock
from dirac_core.plugins.manager import make_plugin_manager


def _load(text: str):  # type: ignore[no-untyped-def]
    return load_config(text, format="toml")


def test_no_driver_means_no_messaging(tmp_path: Path) -> None:
    cfg = _load("\n")
    assert cfg.messaging.type is None
    assert cfg.messaging.destinations.job_status == "/topic/dirac.jobs"
    assert start_messaging(cfg.messaging, hooks=make_plugin_manager(()), database=Database("sqlite://"),
                           clock=FakeClock()) is None


def test_a_full_section(tmp_path: Path) -> None:
    cfg = _load(f"""
[messaging]
type = "stomp"
buffer_dir = "{tmp_path}"
buffer_limit = 500
queue_size = 50
retry_initial = 0.5
retry_max = 30
options = {{ host = "mq.example.org", port = 61614, user = "dirac" }}

[messaging.destinations]
job_status = "/queue/jobs"
data_operation = ""
""")
    m = cfg.messaging
    assert (m.type, m.buffer_dir, m.buffer_limit, m.queue_size, m.retry_initial, m.retry_max) == (
        "stomp", str(tmp_path), 500, 50, 0.5, 30.0)
    assert m.options == {"host": "mq.example.org", "port": 61614, "user": "dirac"}
    assert (m.destinations.job_status, m.destinations.data_operation, m.destinations.pilot_event) == (
        "/queue/jobs", "", "/topic/dirac.pilots")


def test_errors_name_their_key_paths() -> None:
    with pytest.raises(ConfigError, match=r"messaging\.buffer_limit: must be >= 1"):
        _load('[messaging]\ntype = "stomp"\nbuffer_limit = 0')
    with pytest.raises(ConfigError, match=r"messaging\.destinations\.jobs: unknown key \(allowed: "
                                          r"data_operation, job_status, pilot_event, request_done\)"):
        _load('[messaging.destinations]\njobs = "/topic/x"')
    with pytest.raises(ConfigError, match=r"messaging\.retry_max: must be > 0"):
        _load("[messaging]\nretry_max = 0")
    with pytest.raises(ConfigError, match=r"messaging\.buffer_dir: required when a driver is chosen"):
        _load('[messaging]\ntype = "logfile"\noptions = { path = "/tmp/x" }')


def _start(text: str, hooks: pluggy.PluginManager | None = None):  # type: ignore[no-untyped-def]
    return start_messaging(_load(text).messaging, hooks=hooks or make_plugin_manager(()),
                           database=Database("sqlite://"), clock=FakeClock())


def test_an_unknown_option_or_driver_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"messaging\.options: driver 'logfile': .*'colour'"):
        _start(f'[messaging]\ntype = "logfile"\nbuffer_dir = "{tmp_path}"\noptions = {{ colour = "red" }}')
    with pytest.raises(ConfigError, match=r"messaging\.options: driver 'logfile': .*'path'"):
        _start(f'[messaging]\ntype = "logfile"\nbuffer_dir = "{tmp_path}"')
    with pytest.raises(PluginNotFound, match="installed: logfile, memory, stomp"):
        _start(f'[messaging]\ntype = "kafka"\nbuffer_dir = "{tmp_path}"')


def test_an_unreadable_password_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"messaging\.options\.password_file: cannot read"):
        _start(f'[messaging]\ntype = "stomp"\nbuffer_dir = "{tmp_path}"\n'
               f'options = {{ password_file = "{tmp_path}/missing" }}')


def test_start_and_close_register_and_remove_the_hooks(tmp_path: Path) -> None:
    hooks = make_plugin_manager(())
    messaging = _start(f'[messaging]\ntype = "memory"\nbuffer_dir = "{tmp_path}"', hooks)
    assert messaging is not None
    impls = [impl.plugin for impl in hooks.hook.dirac_job_status_changed.get_hookimpls()]
    assert messaging._impl in impls
    assert messaging.publish("request_done", {"n": 1}) is True
    assert messaging.publisher.flush(10)
    assert messaging.publisher.queue.sent == [("/topic/dirac.requests", {"n": 1})]  # type: ignore[attr-defined]
    messaging.close()
    impls = [impl.plugin for impl in hooks.hook.dirac_job_status_changed.get_hookimpls()]
    assert messaging._impl not in impls
    assert messaging.publisher.queue.closed  # type: ignore[attr-defined]

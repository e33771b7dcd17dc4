"""``--log-format json --log-file``: the pilot and the server write JSON lines, with their fields,
and the server's development passwords never reach its log."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from dirac_core.interware import EMBEDDED_CONFIG, Interware


def _site(root: Path) -> Path:
    """An embedded site whose messages go to ``root/messages.jsonl`` (the logfile driver)."""
    site = root / "site"
    site.mkdir(parents=True)
    (site / "dirac.toml").write_text(EMBEDDED_CONFIG.format(root=site.as_posix()) + (
        f'\n[messaging]\ntype = "logfile"\nbuffer_dir = "{root}/buffer"\n'
        f'options = {{ path = "{root}/messages.jsonl" }}\n'))
    return site


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_pilot_logs_json_lines_with_its_stamp(tmp_path: Path) -> None:
    site = _site(tmp_path)
    with Interware.embedded(site) as iw:
        [job] = iw.wms.submit('[ Executable = "/bin/echo"; Arguments = "hi" ]', iw.identity("alice"))
    log = tmp_path / "logs" / "pilot.log"
    done = subprocess.run([sys.executable, "-m", "dirac_core.cli", "pilot", "--local", str(site),
                           "--work-dir", str(tmp_path / "work"), "--stamp", "json-pilot", "--verbose",
                           "--log-format", "json", "--log-file", str(log)],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "1 done" in done.stdout and done.stderr == ""  # the log went to the file
    lines = _lines(log)
    assert lines and all({"time", "level", "logger", "message"} <= set(line) for line in lines)
    assert {(line["component"], line["pilot_stamp"]) for line in lines} == {("pilot", "json-pilot")}
    assert any(line["logger"] == "dirac_core.messaging.wiring" for line in lines)
    messages = _lines(tmp_path / "messages.jsonl")
    assert ("job.status", "Done") in {(m["type"], m.get("status")) for m in messages if job.job_id in
                                      m.get("job_ids", [])}


def test_the_server_logs_json_lines_and_no_password(tmp_path: Path) -> None:
    site = _site(tmp_path)
    log = tmp_path / "server.log"
    server = subprocess.Popen([sys.executable, "-m", "dirac_core.cli", "server", "--local", str(site),
                               "--port", "0", "--tasks-every", "0", "--log-format", "json",
                               "--log-file", str(log)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not (log.exists() and "Application startup complete" in log.read_text()):
            assert server.poll() is None, server.communicate()[1]
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)  # waiting for another process, not timing anything
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=60)
    passwords = re.findall(r"development login: user \w+ password (\S+)", out)
    assert passwords, out
    text = log.read_text()
    assert not [p for p in passwords if p in text]
    lines = _lines(log)
    assert {line["component"] for line in lines} == {"server"}
    assert ("uvicorn.error", "INFO") in {(line["logger"], line["level"]) for line in lines}

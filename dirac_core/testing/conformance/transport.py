"""Conformance suite for :class:`~dirac_core.plugins.transport.Transport` drivers.

Subclass :class:`TransportSuite` and provide a ``driver`` fixture; override
``remote_dir`` when the transport's machine is not this one (by default it
is pytest's ``tmp_path``, right for local and loopback SSH transports). The
machine needs a POSIX shell, ``printf``, ``cat``, ``sleep``, ``head`` and
``tr``. No capabilities yet: every transport must pass every test.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from dirac_core.errors import CEError, NotFound
from dirac_core.plugins.transport import Transport
from dirac_core.testing.conformance.base import ConformanceSuite

__all__ = ["TransportSuite"]

#: Bytes written to each stream by the large-output test: more than an SSH window.
LARGE = 3_000_000


class TransportSuite(ConformanceSuite):
    """Tests every transport driver must pass."""

    @pytest.fixture
    def driver(self) -> Transport:
        raise NotImplementedError("the driver's test module provides the driver fixture")

    @pytest.fixture
    def remote_dir(self, tmp_path: Path) -> str:
        """A writable folder on the transport's machine."""
        return str(tmp_path)

    def test_run_passes_every_argument_unchanged(self, driver: Transport) -> None:
        words = ["a b", "it's", "$HOME", "; echo injected", '"q"', "*", ""]
        result = driver.run(["printf", "%s|", *words])
        assert result.ok and result.returncode == 0
        assert result.stdout == "".join(f"{word}|" for word in words)
        assert result.argv == ("printf", "%s|", *words)

    def test_stdin_reaches_the_command(self, driver: Transport) -> None:
        result = driver.run(["cat"], stdin="first line\nsecond é\n")
        assert result.stdout == "first line\nsecond é\n"

    def test_without_stdin_the_command_reads_end_of_file(self, driver: Transport) -> None:
        result = driver.run(["cat"], timeout=20)
        assert result.ok and result.stdout == ""

    def test_nonzero_exit_is_a_result_and_check_raises(self, driver: Transport) -> None:
        result = driver.run(["sh", "-c", "echo partial; echo went wrong >&2; exit 3"])
        assert (result.returncode, result.ok) == (3, False)
        assert result.stdout == "partial\n" and result.stderr == "went wrong\n"
        with pytest.raises(CEError, match="went wrong") as info:
            result.check()
        assert info.value.fields["returncode"] == 3

    def test_check_returns_the_result_on_success(self, driver: Transport) -> None:
        result = driver.run(["true"])
        assert result.check() is result

    def test_missing_command_exits_127(self, driver: Transport) -> None:
        result = driver.run(["dirac-no-such-command-here", "x"])
        assert result.returncode == 127 and not result.ok

    def test_large_output_on_both_streams(self, driver: Transport) -> None:
        script = (f"head -c {LARGE} /dev/zero | tr '\\0' o; "
                  f"head -c {LARGE} /dev/zero | tr '\\0' e >&2")
        result = driver.run(["sh", "-c", script])
        assert result.stdout == "o" * LARGE and result.stderr == "e" * LARGE

    def test_timeout_raises(self, driver: Transport) -> None:
        with pytest.raises(CEError, match="sleep"):
            driver.run(["sleep", "10"], timeout=0.5)

    def test_empty_command_is_refused(self, driver: Transport) -> None:
        with pytest.raises(ValueError, match="empty"):
            driver.run([])

    def test_commands_from_several_threads(self, driver: Transport) -> None:
        with ThreadPoolExecutor(max_workers=6) as pool:
            results = list(pool.map(lambda i: driver.run(["printf", "%s", f"job-{i}"]), range(12)))
        assert [r.stdout for r in results] == [f"job-{i}" for i in range(12)]

    def test_write_then_read(self, driver: Transport, remote_dir: str) -> None:
        path = f"{remote_dir}/new/deeper/file.txt"
        driver.write_file(path, "line 1\nünïcode ✓\n")
        assert driver.read_file(path) == "line 1\nünïcode ✓\n"

    def test_write_replaces_and_sets_the_mode(self, driver: Transport, remote_dir: str) -> None:
        path = f"{remote_dir}/script.sh"
        driver.write_file(path, "old")
        driver.write_file(path, "#!/bin/sh\necho new\n", mode=0o755)
        assert driver.read_file(path) == "#!/bin/sh\necho new\n"
        assert driver.run([path]).stdout == "new\n"

    def test_read_missing_file_is_not_found(self, driver: Transport, remote_dir: str) -> None:
        with pytest.raises(NotFound):
            driver.read_file(f"{remote_dir}/no-such-file")

    def test_read_what_a_command_wrote(self, driver: Transport, remote_dir: str) -> None:
        path = f"{remote_dir}/from-command.txt"
        driver.run(["sh", "-c", 'printf "%s" "$1" > "$2"', "sh", "written remotely", path]).check()
        assert driver.read_file(path) == "written remotely"

    def test_close_is_idempotent(self, driver: Transport) -> None:
        driver.close()
        driver.close()

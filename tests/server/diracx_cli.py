"""Drive the real DiracX command line (PyPI ``diracx==0.7.0``) against a server on loopback.

``diracx_venv()`` builds, once per machine, a virtual environment holding the pinned client, and
``DiracxCLI`` runs its ``dirac`` command as one user: ``login`` (device flow, approved by a callback the
test supplies), ``submit``, ``search``, ``whoami`` and ``logout``. Every helper fails with an
``AssertionError`` that carries the command's complete stdout and stderr; nothing here skips.

Two habits of the 0.7.0 CLI shape the checks below: it exits 0 when the server answers 401 (it prints
"You are not authenticated") and when it cannot connect ("Please configure a valid DiracX server"), so
the exit code alone proves nothing; and it ignores a failed token revocation on ``logout`` after
printing "Error revoking the refresh token".
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, Any

DIRACX_VERSION = "0.7.0"
DIRACX_REQUIREMENT = f"diracx=={DIRACX_VERSION}"
PIP_TIMEOUT = 900.0
"""Seconds allowed for ``pip install`` (about 20 s with warm indexes)."""

NOT_AUTHENTICATED = "You are not authenticated"
NO_SERVER = "Please configure a valid DiracX server"
REVOKE_ERROR = "Error revoking the refresh token"
LOGIN_OK = "Login successful!"
LOGOUT_OK = "Logout successful!"

_MARKER = ".dirac-core-complete"
_PYTHON_VARS = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE", "VIRTUAL_ENV",
                "__PYVENV_LAUNCHER__")
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")
_VERIFICATION_LINE = re.compile(r"^Now go to: (\S+)[ \t]*\r?\n", re.MULTILINE)
_INSERTED_LINE = re.compile(r"^Inserted (\d+) jobs with ids: ([0-9,]*)[ \t]*\r?$", re.MULTILINE)


# Pure parsing helpers


def parse_verification_url(stdout: str) -> str | None:
    """The URL of the first complete ``Now go to: <url>`` line of ``dirac login``, or None.

    A line still missing its newline counts as absent: the URL may not be complete yet.
    """
    match = _VERIFICATION_LINE.search(stdout)
    return match.group(1) if match else None


def parse_inserted_ids(stdout: str) -> list[int]:
    """The job ids of the ``Inserted N jobs with ids: 1,2`` line of ``dirac jobs submit``.

    Raises ValueError when the line is missing or N is not the number of ids listed.
    """
    match = _INSERTED_LINE.search(stdout)
    if match is None:
        raise ValueError(f"no 'Inserted N jobs with ids: ...' line in {stdout!r}")
    count, listed = int(match.group(1)), match.group(2)
    ids = [int(part) for part in listed.split(",")] if listed else []
    if len(ids) != count:
        raise ValueError(f"'Inserted {count} jobs' lists {len(ids)} ids: {listed!r}")
    return ids


def parse_json_output(stdout: str) -> Any:
    """The JSON document that makes up the whole of a command's stdout (JSON output format)."""
    return json.loads(stdout)


def default_cache_root() -> Path:
    """``$XDG_CACHE_HOME/dirac-core-tests``, or ``~/.cache/dirac-core-tests``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "dirac-core-tests"


def _clean_env(environ: Mapping[str, str], *, drop_proxies: bool) -> dict[str, str]:
    """``environ`` without settings that would leak the caller's Python, DiracX or proxy setup."""
    env = {}
    for key, value in environ.items():
        if key.startswith("DIRACX_") or key in _PYTHON_VARS:
            continue
        if drop_proxies and key.lower() in _PROXY_VARS:
            continue
        env[key] = value
    return env


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode("utf-8", "replace") if isinstance(data, bytes) else data


def describe_run(command: Iterable[str], returncode: int | None, stdout: str, stderr: str) -> str:
    """A failure report: the command, its exit status and its complete output."""
    status = "still running (killed)" if returncode is None else f"exit status {returncode}"
    return (f"command: {' '.join(command)}\n{status}\n"
            f"----- stdout -----\n{stdout}\n----- stderr -----\n{stderr}\n------------------")


# The virtual environment


def _venv_marker_text() -> str:
    return json.dumps({"requirement": DIRACX_REQUIREMENT, "base_python": sys.base_prefix,
                       "python_version": list(sys.version_info[:3])}, sort_keys=True)


def _venv_ready(venv: Path) -> bool:
    marker = venv / _MARKER
    try:
        ready = marker.read_text(encoding="utf-8") == _venv_marker_text()
    except FileNotFoundError:
        return False
    return ready and (venv / "bin" / "python").exists() and (venv / "bin" / "dirac").is_file()


def _checked_call(command: list[str], *, what: str, timeout: float, lock_fd: int) -> None:
    """Run a build step; the child inherits the build lock, so an orphaned step keeps others waiting."""
    env = _clean_env(os.environ, drop_proxies=False)
    try:
        result = subprocess.run(command, env=env, capture_output=True, text=True, errors="replace",
                                stdin=subprocess.DEVNULL, timeout=timeout, check=False, pass_fds=(lock_fd,))
    except subprocess.TimeoutExpired as exc:
        tail = _text(exc.stdout)[-4000:] + _text(exc.stderr)[-4000:]
        raise RuntimeError(f"{what} timed out after {timeout} s: {' '.join(command)}\n{tail}") from exc
    if result.returncode != 0:
        raise RuntimeError(f"{what} failed with exit status {result.returncode}: {' '.join(command)}\n"
                           f"----- stdout (tail) -----\n{result.stdout[-4000:]}\n"
                           f"----- stderr (tail) -----\n{result.stderr[-4000:]}")


def diracx_venv(cache_root: Path | None = None) -> Path:
    """A virtual environment with ``diracx==0.7.0`` installed: ``<cache_root>/diracx-0.7.0``.

    Built at most once: a marker file, written last, tells a finished environment from an interrupted
    build (which is deleted and rebuilt), and an exclusive lock on ``diracx-0.7.0.lock`` makes concurrent
    callers (pytest-xdist workers, parallel runs) wait for the one that builds; the build's children share
    the lock, so a build step orphaned by a killed caller is waited for too. The environment is built in
    place rather than renamed into place because a virtualenv's scripts carry its absolute path.
    ``cache_root`` defaults to ``default_cache_root()``.
    """
    root = default_cache_root() if cache_root is None else cache_root
    venv = root / f"diracx-{DIRACX_VERSION}"
    if _venv_ready(venv):
        return venv
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"diracx-{DIRACX_VERSION}.lock", "w", encoding="utf-8") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if _venv_ready(venv):
                return venv
            if venv.is_symlink() or venv.is_file():
                venv.unlink()
            elif venv.exists():
                shutil.rmtree(venv)
            _checked_call([sys.executable, "-m", "venv", str(venv)], what="creating the diracx venv",
                          timeout=300, lock_fd=lock.fileno())
            python = str(venv / "bin" / "python")
            _checked_call([python, "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
                           DIRACX_REQUIREMENT], what=f"pip install {DIRACX_REQUIREMENT}", timeout=PIP_TIMEOUT,
                          lock_fd=lock.fileno())
            _checked_call([str(venv / "bin" / "dirac"), "--help"], what="running the installed dirac",
                          timeout=120, lock_fd=lock.fileno())
            partial = venv / f"{_MARKER}.tmp"
            partial.write_text(_venv_marker_text(), encoding="utf-8")
            partial.replace(venv / _MARKER)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return venv


# One CLI user


class _PipeReader(threading.Thread):
    """Collects everything a child writes to one pipe, waking ``changed`` waiters after each chunk."""

    def __init__(self, stream: IO[bytes], changed: threading.Condition) -> None:
        super().__init__(daemon=True)
        self._stream = stream
        self._changed = changed
        self._chunks: list[bytes] = []
        self.eof = False

    def run(self) -> None:
        try:
            while chunk := os.read(self._stream.fileno(), 65536):
                with self._changed:
                    self._chunks.append(chunk)
                    self._changed.notify_all()
        finally:
            with self._changed:
                self.eof = True
                self._changed.notify_all()

    def text(self) -> str:
        with self._changed:
            return b"".join(self._chunks).decode("utf-8", "replace")


class DiracxCLI:
    """The ``dirac`` command of one user, with its own home and credentials file under ``workdir``.

    Commands run with ``DIRACX_URL=server_url``, ``DIRACX_CREDENTIALS_PATH=<workdir>/credentials.json``,
    ``DIRACX_OUTPUT_FORMAT=JSON`` and ``HOME=<workdir>``; no ``DIRACX_*``, ``PYTHONPATH``-like or proxy
    variable is inherited from the caller.
    """

    def __init__(self, venv: Path, server_url: str, workdir: Path) -> None:
        self.dirac = venv / "bin" / "dirac"
        if not self.dirac.is_file():
            raise FileNotFoundError(f"no dirac command at {self.dirac}: is {venv} a diracx virtualenv?")
        self.server_url = server_url
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.credentials_path = workdir / "credentials.json"
        self._jdl_batches = 0

    def env(self) -> dict[str, str]:
        """The environment every command of this user runs with."""
        env = _clean_env(os.environ, drop_proxies=True)
        env.update({
            "DIRACX_URL": self.server_url,
            "DIRACX_CREDENTIALS_PATH": str(self.credentials_path),
            "DIRACX_OUTPUT_FORMAT": "JSON",
            "PYTHONUNBUFFERED": "1",
            "PYTHONUTF8": "1",
            "PYTHONNOUSERSITE": "1",
            "HOME": str(self.workdir),
            "COLUMNS": "200",
        })
        return env

    def command(self, *args: str) -> list[str]:
        return [str(self.dirac), *args]

    # raw runs

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run ``dirac <args>`` to completion; whatever its exit status, return it (fail only on timeout)."""
        command = self.command(*args)
        try:
            return subprocess.run(command, env=self.env(), cwd=self.workdir, capture_output=True,
                                  encoding="utf-8", errors="replace", stdin=subprocess.DEVNULL,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise AssertionError(f"timed out after {timeout} s\n"
                                 + describe_run(command, None, _text(exc.stdout), _text(exc.stderr))) from exc

    def check(self, result: subprocess.CompletedProcess[str], *, expect: str | None = None) -> str:
        """``result.stdout`` if the command succeeded (and printed ``expect``); AssertionError otherwise.

        Success means exit status 0 and neither the "not authenticated" nor the "no server" message, which
        the CLI prints with exit status 0.
        """
        problem = None
        if result.returncode != 0:
            problem = "the command failed"
        elif NOT_AUTHENTICATED in result.stdout:
            problem = "the server refused the credentials (HTTP 401)"
        elif NO_SERVER in result.stdout:
            problem = "the CLI could not connect to the server"
        elif expect is not None and expect not in result.stdout:
            problem = f"the output lacks {expect!r}"
        if problem is not None:
            raise AssertionError(f"{problem}\n"
                                 + describe_run(result.args, result.returncode, result.stdout, result.stderr))
        return result.stdout

    def run_ok(self, *args: str, timeout: float = 60, expect: str | None = None) -> str:
        """Run ``dirac <args>`` and return its stdout, failing as ``check`` does."""
        return self.check(self.run(*args, timeout=timeout), expect=expect)

    def _fail(self, message: str, result: subprocess.CompletedProcess[str]) -> AssertionError:
        return AssertionError(f"{message}\n"
                              + describe_run(result.args, result.returncode, result.stdout, result.stderr))

    # commands

    def login(self, vo: str, approve: Callable[[str], None], *, group: str | None = None,
              properties: Iterable[str] = (), timeout: float = 60) -> None:
        """``dirac login vo [--group g] [--property p ...]``, calling ``approve(url)`` with the printed URL.

        ``approve`` runs while the CLI polls the token endpoint (every 2 s), so it must approve the request
        (e.g. by posting credentials to the server) and return. ``timeout`` bounds the whole exchange.
        """
        args = ["login", vo]
        if group is not None:
            args += ["--group", group]
        for prop in properties:
            args += ["--property", prop]
        command = self.command(*args)
        deadline = time.monotonic() + timeout
        changed = threading.Condition()
        proc = subprocess.Popen(command, env=self.env(), cwd=self.workdir, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        out, err = _PipeReader(proc.stdout, changed), _PipeReader(proc.stderr, changed)
        out.start()
        err.start()

        def failure(message: str) -> AssertionError:
            return AssertionError(f"dirac login: {message}\n"
                                  + describe_run(command, proc.poll(), out.text(), err.text()))

        try:
            with changed:
                changed.wait_for(lambda: out.eof or parse_verification_url(out.text()) is not None,
                                 timeout=max(0.0, deadline - time.monotonic()))
            url = parse_verification_url(out.text())
            if url is None:
                raise failure("no 'Now go to: <url>' line"
                              + (" before the output ended" if out.eof else f" within {timeout} s"))
            try:
                approve(url)
            except Exception as exc:
                raise failure(f"approving {url} failed: {exc!r}") from exc
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                raise failure(f"not finished within {timeout} s (approve() returned for {url})") from None
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            out.join(10)
            err.join(10)
            proc.stdout.close()
            proc.stderr.close()
        result = subprocess.CompletedProcess(command, proc.returncode, out.text(), err.text())
        self.check(result, expect=LOGIN_OK)
        creds = self.credentials()
        if not creds or not creds.get("access_token"):
            raise self._fail(f"login succeeded but {self.credentials_path} holds no access token: {creds!r}",
                             result)

    def submit(self, *jdl_texts: str, timeout: float = 60) -> list[int]:
        """``dirac jobs submit`` of one file per JDL text; the new job ids, in submission order."""
        if not jdl_texts:
            raise ValueError("submit() needs at least one JDL")
        self._jdl_batches += 1
        folder = self.workdir / "jdl" / f"{self._jdl_batches:04d}"
        folder.mkdir(parents=True)
        paths = []
        for index, text in enumerate(jdl_texts, start=1):
            path = folder / f"job{index}.jdl"
            path.write_text(text, encoding="utf-8")
            paths.append(str(path))
        result = self.run("jobs", "submit", *paths, timeout=timeout)
        stdout = self.check(result)
        try:
            ids = parse_inserted_ids(stdout)
        except ValueError as exc:
            raise self._fail(str(exc), result) from exc
        if len(ids) != len(jdl_texts):
            raise self._fail(f"{len(jdl_texts)} JDLs submitted, {len(ids)} job ids returned", result)
        return ids

    def search(self, *conditions: str, parameters: Iterable[str] = (), all_parameters: bool = False,
               page: int | None = None, per_page: int | None = None,
               timeout: float = 60) -> list[dict[str, Any]]:
        """``dirac jobs search`` with ``--condition "<param> <op> <value>"`` per condition; the JSON rows.

        Without ``parameters`` the CLI asks for its nine default columns (``all_parameters`` sends
        ``--all``); without ``per_page`` it asks for 10 rows of page 1, not the API's default of 100.
        """
        args = ["jobs", "search"]
        for parameter in parameters:
            args += ["--parameter", parameter]
        for condition in conditions:
            args += ["--condition", condition]
        if all_parameters:
            args.append("--all")
        if page is not None:
            args += ["--page", str(page)]
        if per_page is not None:
            args += ["--per-page", str(per_page)]
        result = self.run(*args, timeout=timeout)
        rows = self._json(result)
        if not isinstance(rows, list) or not all(isinstance(row, dict) for row in rows):
            raise self._fail("the output is not a JSON list of objects", result)
        return rows

    def whoami(self, timeout: float = 60) -> dict[str, Any]:
        """``dirac whoami``: the user info object."""
        result = self.run("whoami", timeout=timeout)
        info = self._json(result)
        if not isinstance(info, dict):
            raise self._fail("the output is not a JSON object", result)
        return info

    def logout(self, timeout: float = 60) -> None:
        """``dirac logout``: the refresh token revoked without error and the credentials file removed."""
        result = self.run("logout", timeout=timeout)
        self.check(result, expect=LOGOUT_OK)
        if REVOKE_ERROR in result.stdout:
            raise self._fail("the server did not revoke the refresh token", result)
        if self.credentials_path.exists():
            raise self._fail(f"{self.credentials_path} still exists after logout", result)

    def credentials(self) -> dict[str, Any] | None:
        """The credentials file's content, or None if there is no file."""
        try:
            text = self.credentials_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        data = json.loads(text)
        if not isinstance(data, dict):
            raise AssertionError(f"{self.credentials_path} does not hold a JSON object: {text!r}")
        return data

    def _json(self, result: subprocess.CompletedProcess[str]) -> Any:
        stdout = self.check(result)
        try:
            return parse_json_output(stdout)
        except ValueError as exc:
            raise self._fail(f"the output is not JSON ({exc})", result) from exc

"""The HTTP benchmarks' machinery: a server in its own processes, tokens, and load clients.

The server runs in child processes (``python -c`` calling :func:`serve_child`),
never on a thread of the benchmark process, so that it does not share a GIL
with the load generator. The parent binds the listening socket first, so the
URL (the token issuer) is known before the server starts, and hands the
socket's descriptor to each child: with two children both accept on it.

The load clients are threads of the benchmark process, one ``httpx.Client``
(one keep-alive connection) each, released together by a barrier.

Profiling: with ``DIRAC_BENCH_PROFILE=<directory>`` every server process
profiles each of its threads with cProfile on thread CPU time and writes
``server-<pid>.pstats`` there when it stops; :func:`profile_summary` sums
them by area (HTTP, validation, tokens, JSON, database, ...).
"""

from __future__ import annotations

import contextlib
import cProfile
import os
import pstats
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import httpx
import wms_bench_support as wms
from bench_cpu import cpu_seconds, db_server_cpu, machine_busy

from dirac_core.config import load_config
from dirac_core.interware import Interware
from dirac_server.runner import bind, url_of

BENCH_DIR = Path(__file__).resolve().parent
#: Environment variable naming a directory: the server processes profile themselves into it.
PROFILE_ENV = "DIRAC_BENCH_PROFILE"
#: The pilot's group in the bench grid (the embedded configuration's ``demo_pilot``: GenericPilot).
PILOT_GROUP = "demo_pilot"
#: Seconds a server process may take to start.
START_TIMEOUT = 60.0


def config_text(url: str, root: Path, issuer: str) -> str:
    """The WMS bench grid on ``url`` with tokens issued by ``issuer`` (the server's own URL).

    The grid has ``demo_pilot`` (user ``pilot``, GenericPilot) and ``demo_user``
    (``owner0`` .. ``owner4``, NormalUser): no users to add.
    """
    return f'{wms.grid_config_text(url, root)}\n[auth]\nissuer = "{issuer}"\n'


def pilot_token(iw: Interware) -> str:
    """An access token of ``pilot`` in ``demo_pilot``, valid long enough for any run."""
    return iw.auth.issue("pilot", vo="demo", group=PILOT_GROUP, access_minutes=240)[1].access_token


def owner_token(iw: Interware, name: str) -> str:
    """An access token of owner ``name`` in ``demo_user``."""
    return iw.auth.issue(name, vo="demo", group="demo_user", access_minutes=240)[1].access_token


# -- the server processes -------------------------------------------------------


class BenchServer:
    """A loopback socket and the configuration of the server that will serve on it.

    :meth:`interware` gives the parent an interware on the same configuration
    (seeding, tokens, raw baselines); :meth:`running` starts the server
    processes for a ``with`` block and stops them at its end, whatever happens.
    """

    def __init__(self, db_url: str, root: Path) -> None:
        self.root = root
        self.sock = bind()
        self.url = url_of(self.sock)
        self.config_path = root / "server.toml"
        self.config_path.write_text(config_text(db_url, root, self.url))

    def interware(self) -> Interware:
        """An interware on the server's configuration (the database is migrated already)."""
        return Interware.from_config(load_config(self.config_path), migrate=False)

    @contextlib.contextmanager
    def running(self, workers: int = 1) -> Iterator[list[int]]:
        """``workers`` server processes on the socket; yields their pids once all serve."""
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(BENCH_DIR), *filter(None, [os.environ.get("PYTHONPATH")])])}
        fd = self.sock.fileno()
        procs: list[subprocess.Popen[bytes]] = []
        try:
            for index in range(workers):
                ready = self.root / f"ready-{index}"
                ready.unlink(missing_ok=True)
                procs.append(subprocess.Popen(
                    [sys.executable, "-c",
                     "import sys, server_bench_support as s; s.serve_child(*sys.argv[1:])",
                     str(self.config_path), str(fd), str(ready)],
                    pass_fds=(fd,), env=env))
            self._wait_ready(procs, workers)
            yield [proc.pid for proc in procs]
        finally:
            for proc in procs:
                if proc.poll() is None:
                    proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=30)

    def _wait_ready(self, procs: Sequence[subprocess.Popen[bytes]], workers: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while not all((self.root / f"ready-{i}").exists() for i in range(workers)):
            dead = [proc.args for proc in procs if proc.poll() is not None]
            if dead:
                raise RuntimeError(f"a server process exited before serving: {dead}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the server did not start within {START_TIMEOUT:.0f} s")
            time.sleep(0.05)
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while client.get("/api/health/ready").status_code != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError("the server's database is not ready")
                time.sleep(0.1)

    def close(self) -> None:
        """Close the listening socket."""
        self.sock.close()


def serve_child(config_path: str, fd: str, ready: str) -> None:
    """A server process: the app on the inherited socket ``fd`` until SIGTERM.

    Stops with the parent (``PR_SET_PDEATHSIG``), so a killed benchmark leaves
    no server behind.
    """
    with contextlib.suppress(Exception):  # Linux only; elsewhere the parent's finally stops us
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    from dirac_server import create_app
    from dirac_server.runner import serve

    sock = socket.socket(fileno=int(fd))
    iw = Interware.from_config(load_config(Path(config_path)), migrate=False)
    app = create_app(iw)
    profiles = _start_profiling() if os.environ.get(PROFILE_ENV) else None
    # uvicorn restores this handler after its graceful stop and raises SIGTERM again:
    # a no-op handler lets serve() return, so the profile is written and the pool closed
    signal.signal(signal.SIGTERM, lambda *_: None)
    Path(ready).touch()
    try:
        serve(app, sock, log_level="warning")
    finally:
        if profiles is not None:
            threading.setprofile(None)
            pstats.Stats(*profiles).dump_stats(
                Path(os.environ[PROFILE_ENV]) / f"server-{os.getpid()}.pstats")
        iw.close()


def _start_profiling() -> list[cProfile.Profile]:
    """cProfile on thread CPU time in this thread and in every thread started from now on."""
    profiles: list[cProfile.Profile] = []

    def boot(*_: Any) -> None:  # a new thread's first event: give it its own profiler
        profile = cProfile.Profile(time.thread_time)
        profiles.append(profile)
        profile.enable()

    threading.setprofile(boot)
    boot()
    return profiles


# -- load clients ---------------------------------------------------------------


@attrs.frozen
class Sample:
    """One request: its kind, HTTP status (0: no answer), seconds, and what went wrong."""

    op: str
    status: int
    seconds: float
    error: str | None = None


@attrs.frozen
class LoadRun:
    """What the clients did together, and what it cost in CPU.

    ``server_cpu``, ``client_cpu`` and ``db_cpu`` (the local MariaDB and
    PostgreSQL servers, whoever else uses them included) are in cores (1.0:
    one core busy all along); ``machine_cpu`` is the busy share of the whole
    machine (whatever else runs included), in cores.
    """

    samples: list[Sample]
    wall: float
    server_cpu: float
    client_cpu: float
    db_cpu: float
    machine_cpu: float

    def of(self, op: str) -> list[Sample]:
        """The samples of one kind of request."""
        return [s for s in self.samples if s.op == op]

    @property
    def errors(self) -> list[Sample]:
        """The samples that went wrong."""
        return [s for s in self.samples if s.error is not None]


Work = Callable[[int, httpx.Client], list[Sample]]


def run_clients(url: str, tokens: Sequence[str], work: Work, *,
                server_pids: Sequence[int] = ()) -> LoadRun:
    """One thread per token, each with its own ``httpx.Client``; all start together.

    ``work(index, client)`` makes the thread's requests and returns their samples.
    """
    count = len(tokens)
    barrier = threading.Barrier(count + 1)
    results: list[list[Sample]] = [[] for _ in range(count)]
    ends: list[float] = [0.0] * count
    failures: list[BaseException] = []

    def client_thread(index: int) -> None:
        headers = {"Authorization": f"Bearer {tokens[index]}"}
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        with httpx.Client(base_url=url, headers=headers, timeout=120, limits=limits) as client:
            try:
                barrier.wait()
                results[index] = work(index, client)
            except BaseException as exc:  # reported by the caller
                failures.append(exc)
            finally:
                ends[index] = time.perf_counter()

    threads = [threading.Thread(target=client_thread, args=(i,), name=f"client{i}")
               for i in range(count)]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    server0, client0, machine0 = cpu_seconds(server_pids), time.process_time(), machine_busy()
    db0 = db_server_cpu()
    for thread in threads:
        thread.join()
    wall = max(ends) - start
    server1, client1, machine1 = cpu_seconds(server_pids), time.process_time(), machine_busy()
    db1 = db_server_cpu()
    if failures:
        raise failures[0]
    busy = (machine1[0] - machine0[0]) / max(1, machine1[1] - machine0[1]) * (os.cpu_count() or 1)
    return LoadRun([s for r in results for s in r], wall, (server1 - server0) / wall,
                   (client1 - client0) / wall, (db1 - db0) / wall, busy)


def timed(client: httpx.Client, op: str, method: str, path: str, expected: Sequence[int],
          **kwargs: Any) -> tuple[Sample, httpx.Response | None]:
    """Send one request; a status not in ``expected`` or no answer makes an error sample."""
    start = time.perf_counter()
    try:
        response = client.request(method, path, **kwargs)
    except httpx.HTTPError as exc:
        return Sample(op, 0, time.perf_counter() - start, f"{type(exc).__name__}: {exc}"), None
    elapsed = time.perf_counter() - start
    error = None if response.status_code in expected else \
        f"{response.status_code}: {response.text[:300]}"
    return Sample(op, response.status_code, elapsed, error), response


def percentiles(samples: Sequence[Sample]) -> tuple[float, float]:
    """Median and p99 latency in ms."""
    latencies = sorted(s.seconds for s in samples)
    if not latencies:
        return 0.0, 0.0
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return statistics.median(latencies) * 1e3, p99 * 1e3


# -- what the clients do ----------------------------------------------------------


def match_work(first: int, count: int, stride: int) -> Work:
    """Client ``i`` matches ``count`` pilots: ``first + i``, ``first + i + stride``, ..."""
    def work(index: int, client: httpx.Client) -> list[Sample]:
        samples = []
        for k in range(count):
            sample, _ = timed(client, "match", "POST", "/api/jobs/match", (200,),
                              json=wms.pilot_resource(first + index + k * stride))
            samples.append(sample)
        return samples

    return work


def health_work(count: int) -> Work:
    """``count`` ``GET /api/health/live`` each: the HTTP stack alone (no token, no database)."""
    def work(_: int, client: httpx.Client) -> list[Sample]:
        return [timed(client, "live", "GET", "/api/health/live", (200,))[0] for _ in range(count)]

    return work


def submit_work(batches: Sequence[Sequence[str]], clients: int) -> Work:
    """Client ``i`` submits batches ``i``, ``i + clients``, ... (one call each)."""
    def work(index: int, client: httpx.Client) -> list[Sample]:
        return [timed(client, "submit", "POST", "/api/jobs/jdl", (201,), json=list(batch))[0]
                for batch in batches[index::clients]]

    return work


#: The load test's roles, by client index modulo 4: two pilots, a submitter, a monitor.
ROLES = ("pilot", "pilot", "submitter", "monitor")
#: JDLs per submission in the load test.
LOAD_JDLS_PER_CALL = 5


def _stamp(when: datetime) -> str:
    return when.isoformat()


def mixed_work(duration: float, first_pilot: int) -> Work:
    """The load test's clients until ``duration`` seconds have passed, by role (:data:`ROLES`).

    - pilot: match; with a job, set it Running, then Done (two status updates);
    - submitter: submit :data:`LOAD_JDLS_PER_CALL` distinct JDLs;
    - monitor: search the owner's Waiting jobs (a page of 100, newest first),
      then their jobs of any status.
    """
    def work(index: int, client: httpx.Client) -> list[Sample]:
        role = ROLES[index % len(ROLES)]
        deadline = time.perf_counter() + duration
        samples: list[Sample] = []
        k = 0
        while time.perf_counter() < deadline:
            if role == "pilot":
                _pilot_round(client, first_pilot + index * 1_000_000 + k, samples)
            elif role == "submitter":
                jdls = [f'[Executable = "/bin/echo"; Arguments = "load {index} {k} {j}"; '
                        f'CPUTime = 3600; Site = "{wms.SITES[(index + k + j) % len(wms.SITES)]}";]'
                        for j in range(LOAD_JDLS_PER_CALL)]
                samples.append(timed(client, "submit", "POST", "/api/jobs/jdl", (201,),
                                     json=jdls)[0])
            else:
                waiting = {"parameters": ["JobID", "Status", "Site", "Owner"],
                           "search": [{"parameter": "Status", "operator": "eq", "value": "Waiting"}],
                           "sort": [{"parameter": "JobID", "direction": "desc"}]}
                samples.append(timed(client, "search", "POST", "/api/jobs/search", (200, 206),
                                     json=waiting, params={"per_page": 100})[0])
                samples.append(timed(client, "search", "POST", "/api/jobs/search", (200, 206),
                                     json={"parameters": ["JobID", "Status"]},
                                     params={"per_page": 100, "page": 1 + k % 3})[0])
            k += 1
        return samples

    return work


def _pilot_round(client: httpx.Client, pilot: int, samples: list[Sample]) -> None:
    sample, answer = timed(client, "match", "POST", "/api/jobs/match", (200, 204),
                           json=wms.pilot_resource(pilot))
    samples.append(sample)
    if answer is None or answer.status_code != 200:
        return
    job = str(answer.json()["JobID"])
    now = datetime.now(UTC)
    for offset, state in ((0, {"Status": "Running", "MinorStatus": "Application",
                               "Source": "JobWrapper"}),
                          (1, {"Status": "Done", "MinorStatus": "Execution Complete",
                               "Source": "JobWrapper"})):
        body = {job: {_stamp(now + timedelta(milliseconds=offset)): state}}
        sample, answer = timed(client, "status", "PATCH", "/api/jobs/status", (200,), json=body)
        if answer is not None and sample.error is None and job not in answer.json()["success"]:
            sample = attrs.evolve(sample, error=f"not applied: {answer.text[:300]}")
        samples.append(sample)


# -- in-process baselines ---------------------------------------------------------


def submit_loop(iw: Interware, batches: Sequence[Sequence[str]], name: str
                ) -> tuple[float, list[float]]:
    """The library's own submission of ``batches`` one call each: (jobs/s, call latencies)."""
    who = wms.owner(name)
    latencies = []
    jobs = 0
    start = time.perf_counter()
    for batch in batches:
        t0 = time.perf_counter()
        jobs += len(iw.wms.submit(list(batch), who))
        latencies.append(time.perf_counter() - t0)
    return jobs / (time.perf_counter() - start), latencies


# -- profiles ---------------------------------------------------------------------

#: Where a function's own time goes, by the first matching fragment of its file path.
AREAS: tuple[tuple[str, str], ...] = (
    ("joserfc", "token verification (joserfc, RSA)"),
    ("cryptography", "token verification (joserfc, RSA)"),
    ("dirac_core/auth", "token verification (joserfc, RSA)"),
    ("json", "JSON encode/decode"),
    ("fastapi/encoders", "JSON encode/decode"),
    ("pydantic", "FastAPI/pydantic validation"),
    ("fastapi", "FastAPI/pydantic validation"),
    ("starlette", "Starlette (routing, responses, middleware)"),
    ("dirac_server", "dirac_server (routes, batcher, deps)"),
    ("uvicorn", "HTTP (uvicorn, h11, asyncio)"),
    ("h11", "HTTP (uvicorn, h11, asyncio)"),
    ("asyncio", "HTTP (uvicorn, h11, asyncio)"),
    ("selectors", "HTTP (uvicorn, h11, asyncio)"),
    ("socket", "HTTP (uvicorn, h11, asyncio)"),
    ("anyio", "threadpool (anyio, threading)"),
    ("threading", "threadpool (anyio, threading)"),
    ("queue", "threadpool (anyio, threading)"),
    ("concurrent", "threadpool (anyio, threading)"),
    ("sqlalchemy", "database: SQLAlchemy"),
    ("MySQLdb", "database: driver and server round trips"),
    ("psycopg", "database: driver and server round trips"),
    ("sqlite3", "database: driver and server round trips"),
    ("dirac_core/jdl", "dirac_core: JDL parsing"),
    ("dirac_core", "dirac_core: WMS logic"),
)


def _area(filename: str, name: str) -> str:
    where = f"{filename} {name}".replace("\\", "/")
    for fragment, area in AREAS:
        if fragment in where:
            return area
    return "other (builtins, logging, typing, ...)"


def profile_summary(paths: Sequence[Path], top: int = 25) -> str:
    """CPU seconds by area and the ``top`` functions by own time, from server profiles."""
    stats = pstats.Stats(*(str(p) for p in paths))
    by_area: Counter[str] = Counter()
    rows: list[tuple[float, int, str]] = []
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    for (filename, line, name), (_, calls, tottime, _, callers) in raw.items():
        area = _area(filename, name)
        if filename == "~":  # a builtin: its caller's area (json.dumps' C loop is JSON)
            mine = Counter({_area(c[0], c[2]): t[2] for c, t in callers.items()})
            area = mine.most_common(1)[0][0] if mine else area
        by_area[area] += tottime
        rows.append((tottime, calls, f"{Path(filename).name}:{line}({name})"))
    total = sum(by_area.values()) or 1.0
    lines = [f"{'area':<44} {'cpu s':>8} {'share':>6}"]
    lines += [f"{area:<44} {sec:>8.2f} {sec / total:>6.1%}" for area, sec in by_area.most_common()]
    lines.append(f"\n{'own cpu s':>9} {'calls':>9}  function")
    lines += [f"{t:>9.2f} {c:>9}  {f}" for t, c, f in sorted(rows, reverse=True)[:top]]
    return "\n".join(lines)

"""Matcher processes racing for the same waiting jobs: each job is handed out exactly once.

Four processes (``spawn``), each with its own interware on the backend's
database, match pilots until nothing is left. The processes start together
(a barrier, no sleeps); whatever the interleaving, the outcome is fixed: the
jobs handed out are the jobs submitted, none twice, and the database agrees
(Matched, one Matched history record, the pilot each job went to).
"""

from __future__ import annotations

import json
import multiprocessing
import re
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from dirac_core.config import load_config
from dirac_core.db import Database
from dirac_core.db.tables.wms import job_history, job_to_pilot, tq_jobs
from dirac_core.interware import EMBEDDED_CONFIG, Interware
from dirac_core.model.identity import Identity
from dirac_core.model.job import JobStatus
from dirac_core.wms import status_counts

JOBS_PER_OWNER = 150  # alice and admin: 300 jobs in two task queues
PROCESSES = 4
SITE = "DIRAC.Embedded.local"
PILOT = Identity(user="pilot", group="demo_user", vo="demo", properties={"GenericPilot"})


def _config_text(url: str, root: Path) -> str:
    """The embedded configuration with ``[database] url`` set to ``url``."""
    text, replaced = re.subn(r'(?m)^url = ".*"$', lambda _: f"url = {json.dumps(url)}",
                             EMBEDDED_CONFIG.format(root=root.as_posix()), count=1)
    assert replaced == 1
    return text


def _jdl_job_id(jdl: str) -> int | None:
    found = re.search(r"\bJobID\s*=\s*(\d+)\s*;", jdl)
    return int(found.group(1)) if found else None


def _match_until_empty(text: str, worker: int, barrier: Any, results: Any, batch: int) -> None:
    """One matcher process: match pilots ``w<worker>-<n>`` until no job is given.

    With ``batch`` > 1 it claims that many at a time through ``match_many``.
    Each job must come with its own JDL (``JobID``).
    """
    try:
        with Interware.from_config(load_config(text, format="toml"), migrate=False) as iw:
            barrier.wait(timeout=60)
            got: dict[str, int] = {}
            cycle = 0
            while True:
                stamps = [f"w{worker}-{cycle}-{slot}" for slot in range(batch)]
                cycle += 1
                resources = [{"Site": SITE, "CPUTime": 100_000, "PilotReference": stamp}
                             for stamp in stamps]
                answers = ([iw.wms.match(resources[0], PILOT)] if batch == 1
                           else iw.wms.match_many(resources, PILOT))
                if all(matched is None for matched in answers):
                    break
                for stamp, matched in zip(stamps, answers, strict=True):
                    if matched is None:
                        continue
                    if _jdl_job_id(matched.jdl) != matched.job_id:
                        raise AssertionError(f"job {matched.job_id} handed out with the JDL "
                                             f"of job {_jdl_job_id(matched.jdl)}")
                    got[stamp] = matched.job_id
        results.put((worker, got, None))
    except BaseException:
        barrier.abort()
        results.put((worker, {}, traceback.format_exc()))


def _run_matchers(text: str, batch: int) -> dict[str, int]:
    """Start the processes together; return pilot stamp -> job id over all of them."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(PROCESSES)
    results = ctx.Queue()
    procs = [ctx.Process(target=_match_until_empty, args=(text, w, barrier, results, batch))
             for w in range(PROCESSES)]
    for proc in procs:
        proc.start()
    try:
        outcomes = [results.get(timeout=120) for _ in procs]
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
    errors = [tb for _, _, tb in outcomes if tb]
    assert not errors, errors[0]
    handed: dict[str, int] = {}
    for _, got, _ in outcomes:
        handed.update(got)
    assert len(handed) == sum(len(got) for _, got, _ in outcomes)  # stamps are unique
    return handed


@pytest.mark.parametrize("batch", [1, 4], ids=["match", "match_many"])
def test_concurrent_matchers_hand_out_every_job_exactly_once(database: Database, tmp_path: Path,
                                                              batch: int) -> None:
    text = _config_text(database.url.render_as_string(hide_password=False), tmp_path)
    with Interware.from_config(load_config(text, format="toml")) as iw:
        submitted = []
        for user in ("alice", "admin"):
            jdl = (f'[Executable = "/bin/true"; Arguments = "%n"; Priority = '
                   f'{2 if user == "alice" else 1}; Parameters = {JOBS_PER_OWNER};]')
            submitted += iw.wms.submit(jdl, iw.identity(user))
        assert {job.status for job in submitted} == {JobStatus.WAITING}
        ids = sorted(job.job_id for job in submitted)

        handed = _run_matchers(text, batch)

        given = Counter(handed.values())
        assert [job for job, n in given.items() if n > 1] == []  # none twice
        assert sorted(given) == ids  # none lost, none invented
        assert {row["status"] for row in iw.wms.get_jobs(ids).values()} == {JobStatus.MATCHED}
        with database.begin(read_only=True) as conn:
            matched_records: dict[int, int] = dict(conn.execute(
                select(job_history.c.job_id, func.count())
                .where(job_history.c.status == JobStatus.MATCHED)
                .group_by(job_history.c.job_id)).all())
            pilots = dict(conn.execute(select(job_to_pilot.c.pilot_stamp,
                                              job_to_pilot.c.job_id)).all())
            left = conn.execute(select(func.count()).select_from(tq_jobs)).scalar_one()
        assert matched_records == dict.fromkeys(ids, 1)
        assert pilots == handed  # each job recorded with the pilot that got it
        assert left == 0
        with database.begin(read_only=True) as conn:  # the status counts saw every claim once
            assert status_counts.counts(conn, vo="demo") == {"Matched": len(ids)}
        assert iw.wms.match({"Site": SITE, "CPUTime": 100_000}, PILOT) is None

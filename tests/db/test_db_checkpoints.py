"""SQLite's WAL checkpoints in a thread of their own: the writers' threshold, one checkpoint, the
thread's life. (When the thread runs is timing; what one round does is tested, not when.)"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from sqlalchemy import text

from dirac_core.db import Database
from dirac_core.db.checkpoints import SAFETY_PAGES, Checkpointer


def _threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sqlite-checkpoints"]


def test_a_file_database_leaves_checkpoints_to_its_thread(tmp_path: Path) -> None:
    before = len(_threads())
    with Database(f"sqlite:///{tmp_path / 'c.db'}") as db:
        with db.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == SAFETY_PAGES
        assert len(_threads()) == before  # no thread before the first write
        with db.begin() as conn:
            conn.execute(text("CREATE TABLE t (x TEXT)"))
        assert len(_threads()) == before + 1
        db.close()
        assert len(_threads()) == before  # stopped, and started again by the next write
        with db.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES ('again')"))
        assert len(_threads()) == before + 1
    assert len(_threads()) == before


def test_a_scratch_database_checkpoints_as_sqlite_does() -> None:
    with Database("sqlite://") as db, db.begin() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000


def test_one_round_copies_the_log_into_the_database(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    # open throughout: closing the pool must not be the last close (which checkpoints and
    # removes the log)
    reader = sqlite3.connect(path, isolation_level=None)
    try:
        with Database(f"sqlite:///{path}") as db:
            with db.begin() as conn:
                conn.execute(text("CREATE TABLE t (x TEXT)"))
                conn.execute(text("INSERT INTO t VALUES (:x)"), [{"x": "a" * 500}] * 2000)
            assert reader.execute("SELECT COUNT(*) FROM t").fetchone() == (2000,)  # in the WAL now
        # whether the thread's round came first or not, after one round the log is all copied
        busy, frames, done = Checkpointer(str(path)).run_once(reader)
        assert busy == 0 and frames > 100 and done == frames
    finally:
        reader.close()

"""What the server needs besides the interware: limits and development switches."""

from __future__ import annotations

import attrs
from attrs import validators as v

__all__ = ["ServerSettings"]


@attrs.frozen(kw_only=True)
class ServerSettings:
    """Server-side settings (the token issuer and lifetimes are the interware's ``[auth]``).

    ``max_body_bytes``: larger request bodies get 413. ``max_jdls_per_call``:
    DiracX accepts 20 JDLs per ``POST /api/jobs/jdl``. ``match_batch``: up to
    this many concurrent pilots' match requests share one transaction.
    ``dev_passwords``: printed at start-up by ``--local`` (user -> password).
    ``sandbox_dir``: where sandboxes are kept (default: ``sandboxes`` beside a SQLite file;
    without it, on other databases, the sandbox routes answer 503). ``sandbox_max_bytes``:
    the largest sandbox (its upload is exempt from ``max_body_bytes``).
    ``sandbox_url_seconds``: how long an upload or download URL stays valid.
    ``sandbox_keep_days``: sandboxes no job has and unused for that long are removed (hourly;
    0 keeps them).
    ``tasks_every``: seconds between sweeps of the interware's periodic tasks (site director,
    stalled jobs, cleaning); 0 runs none in this server (``dirac-core server`` uses 10).
    """

    max_body_bytes: int = attrs.field(default=10 * 1024 * 1024, validator=v.ge(1024))
    max_jdls_per_call: int = attrs.field(default=20, validator=v.ge(1))
    match_batch: int = attrs.field(default=16, validator=v.ge(1))
    title: str = "dirac-core"
    sandbox_dir: str | None = None
    sandbox_max_bytes: int = attrs.field(default=100 * 1024 * 1024, validator=v.ge(1))
    sandbox_url_seconds: int = attrs.field(default=300, validator=v.ge(1))
    sandbox_keep_days: float = attrs.field(default=15.0, validator=v.ge(0))
    tasks_every: float = attrs.field(default=0.0, validator=v.ge(0))

"""What the server needs besides the interware: limits and development switches."""

from __future__ import annotations

import attrs
from attrs import validators as v

from dirac_core.errors import ConfigError
from dirac_core.model.lfn import InvalidLFN, normalize_lfn

__all__ = ["ServerSettings"]


@attrs.frozen(kw_only=True)
class ServerSettings:
    """Server-side settings (the token issuer and lifetimes are the interware's ``[auth]``).

    ``max_body_bytes``: larger request bodies get 413. ``max_jdls_per_call``:
    DiracX accepts 20 JDLs per ``POST /api/jobs/jdl``. ``match_batch``: up to
    this many concurrent pilots' match requests share one transaction.
    ``dev_passwords``: printed at start-up by ``--local`` (user -> password).
    ``sandbox_dir``: where sandboxes are kept; or ``sandbox_se``: the storage element (a name in
    the interware's ``resources.storage_elements``) keeping them under ``sandbox_se_path``
    (``/sandboxes``), streamed through the server; not both. With neither, the interware's
    ``[sandboxes]`` section decides (default: ``sandboxes`` beside a SQLite file; without it,
    on other databases, the sandbox routes answer 503). ``sandbox_max_bytes``:
    the largest sandbox (its upload is exempt from ``max_body_bytes``).
    ``sandbox_url_seconds``: how long an upload or download URL stays valid.
    ``sandbox_keep_days``: sandboxes no job has and unused for that long are removed (hourly;
    0 keeps them).
    ``catalog_max_items``: the most items (LFNs, paths, files) one ``/api/catalog`` call may carry;
    more is answered 413 (the remote catalog splits its calls to fit).
    ``tasks_every``: seconds between sweeps of the interware's periodic tasks (site director,
    stalled jobs, cleaning); 0 runs none in this server (``dirac-core server`` uses 10).
    """

    max_body_bytes: int = attrs.field(default=10 * 1024 * 1024, validator=v.ge(1024))
    max_jdls_per_call: int = attrs.field(default=20, validator=v.ge(1))
    match_batch: int = attrs.field(default=16, validator=v.ge(1))
    title: str = "dirac-core"
    sandbox_dir: str | None = attrs.field(default=None, validator=v.optional(v.instance_of(str)))
    sandbox_se: str | None = attrs.field(default=None, validator=v.optional(v.instance_of(str)))
    sandbox_se_path: str = attrs.field(default="/sandboxes", validator=v.instance_of(str))
    sandbox_max_bytes: int = attrs.field(default=100 * 1024 * 1024, validator=v.ge(1))
    sandbox_url_seconds: int = attrs.field(default=300, validator=v.ge(1))
    sandbox_keep_days: float = attrs.field(default=15.0, validator=v.ge(0))
    tasks_every: float = attrs.field(default=0.0, validator=v.ge(0))
    catalog_max_items: int = attrs.field(default=10_000, validator=v.ge(1))

    def __attrs_post_init__(self) -> None:
        if self.sandbox_dir is not None and self.sandbox_se is not None:
            raise ConfigError([("sandbox_se", "give either sandbox_dir or sandbox_se, not both")],
                              source="ServerSettings")
        try:
            normalize_lfn(self.sandbox_se_path)
        except InvalidLFN as exc:
            raise ConfigError([("sandbox_se_path", str(exc))], source="ServerSettings") from None

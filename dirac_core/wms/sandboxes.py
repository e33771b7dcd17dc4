"""Sandboxes: the content-addressed archives a job takes in (input) and leaves behind (output).

A sandbox is named by a PFN in DiracX's manner,
``SB:<store>|/<vo>/<group>/<user>/sha256:<checksum>.<format>``, and its bytes are kept once per
VO and content, at ``<root>/<vo>/sha256:<checksum>.<format>``: two users uploading the same
archive get two PFNs (each must upload it: knowing a checksum gives no access) and one file.
Files are written to a temporary file, checked (size and SHA-256) and renamed, so a file
under its final name is always complete and correct.

``wms_sandboxes`` records who uploaded which PFN and when it was last used; ``wms_sandbox_jobs``
which sandboxes a job has, as input or output. :meth:`SandboxStore.clean` removes the
sandboxes no existing job refers to and unused for a while. Packing and safe unpacking of
archives are in :mod:`dirac_core.wms.sandbox_archives`.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

import attrs
from sqlalchemy import Connection, and_, delete, exists, insert, select, update
from sqlalchemy.exc import IntegrityError

from dirac_core.config.registry import Registry
from dirac_core.db.database import Database
from dirac_core.db.tables.wms import jobs, sandbox_jobs, sandboxes
from dirac_core.errors import ChecksumMismatch, DiracError, JDLError, NotFound
from dirac_core.jdl.description import JobDescription
from dirac_core.model.clock import Clock
from dirac_core.model.identity import Identity
from dirac_core.wms.access import Action, may

__all__ = ["FORMATS", "KINDS", "MAX_SIZE", "InvalidSandbox", "SandboxCleaning", "SandboxPFN", "SandboxStore",
           "check_input_sandboxes", "default_root", "input_sandbox_pfns", "readable"]

FORMATS = ("tar.bz2", "tar.zst")
KINDS = ("input", "output")
#: DiracX's limit on one sandbox (the server's ``sandbox_max_bytes`` may lower it).
MAX_SIZE = 100 * 1024 * 1024
STORE_NAME = "SandboxSE"
_CHUNK = 1024 * 1024
_VO = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}"
_NAME = r"[A-Za-z0-9_][A-Za-z0-9_.@+:-]{0,63}"
_PFN = re.compile(rf"SB:(?P<store>[A-Za-z0-9_][A-Za-z0-9_.-]{{0,63}})\|/(?P<vo>{_VO})/(?P<group>{_NAME})"
                  rf"/(?P<user>{_NAME})/sha256:(?P<checksum>[0-9a-f]{{64}})\.(?P<format>tar\.bz2|tar\.zst)")


class InvalidSandbox(DiracError):
    """A malformed PFN, checksum, size or format (400)."""


@attrs.frozen(kw_only=True)
class SandboxPFN:
    """The parts of a sandbox PFN."""

    store: str
    vo: str
    group: str
    user: str
    checksum: str
    format: str

    @classmethod
    def parse(cls, text: str) -> SandboxPFN:
        """The PFN ``text``; raises :class:`InvalidSandbox` for anything else (``..``, paths...)."""
        found = _PFN.fullmatch(text) if isinstance(text, str) and len(text) <= 512 else None
        if found is None:
            raise InvalidSandbox(f"invalid sandbox PFN {str(text)[:100]!r} (expected "
                                 "SB:<store>|/<vo>/<group>/<user>/sha256:<hex64>.<tar.bz2|tar.zst>)")
        return cls(**found.groupdict())

    def __str__(self) -> str:
        return (f"SB:{self.store}|/{self.vo}/{self.group}/{self.user}/"
                f"sha256:{self.checksum}.{self.format}")

    @property
    def file_name(self) -> str:
        """Where the bytes are, relative to the store's root (one file per VO and content)."""
        return f"{self.vo}/sha256:{self.checksum}.{self.format}"


def default_root(database: Database) -> Path | None:
    """``sandboxes`` beside a SQLite file; None for other databases (or SQLite in memory)."""
    url = database.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(str(url.database)).resolve().parent / "sandboxes"


def readable(identity: Identity, row: Mapping[str, Any], registry: Registry) -> bool:
    """True when ``identity`` may use the sandbox ``row`` as its own: the uploader, a member of a
    sharing group, an administrator (the rules of :func:`~dirac_core.wms.access.may` for jobs)."""
    like_job = {"job_id": -1, "vo": row["vo"], "owner": row["owner"], "owner_group": row["owner_group"]}
    return may(identity, like_job, Action.READ, registry)


def input_sandbox_pfns(description: JobDescription) -> list[str]:
    """The ``SB:`` entries of a job's ``InputSandbox`` (the other entries are local files or LFNs)."""
    return sorted({item for item in description.input_sandbox if item.startswith("SB:")})


def check_input_sandboxes(conn: Connection, identity: Identity, registry: Registry,
                          descriptions: Sequence[JobDescription]) -> None:
    """Raise ``JDLError`` unless every ``SB:`` input sandbox of these jobs is uploaded and
    ``identity``'s to use (called at submission, before anything is written)."""
    for index, description in enumerate(descriptions):
        for pfn in input_sandbox_pfns(description):
            try:
                SandboxPFN.parse(pfn)
            except InvalidSandbox as exc:
                raise JDLError(f"job {index}: InputSandbox: {exc}", job_index=index) from None
            row = conn.execute(select(sandboxes).where(sandboxes.c.pfn == pfn)).mappings().first()
            if row is None or not row["uploaded"] or not readable(identity, dict(row), registry):
                raise JDLError(f"job {index}: InputSandbox {pfn!r}: no such uploaded sandbox",
                               job_index=index, pfn=pfn)


class SandboxStore:
    """Sandboxes in a directory, recorded in the database."""

    def __init__(self, *, database: Database, root: Path | str, clock: Clock,
                 name: str = STORE_NAME, max_size: int = MAX_SIZE) -> None:
        self.database = database
        self.root = Path(root)
        self.clock = clock
        self.name = name
        self.max_size = max_size

    # -- uploading --------------------------------------------------------------

    def init_upload(self, identity: Identity, checksum: str, size: int, format: str) -> tuple[str, bool]:
        """The PFN of ``identity``'s sandbox with that content, and whether it is uploaded already."""
        checksum = checksum.lower() if isinstance(checksum, str) else checksum
        if not isinstance(checksum, str) or not re.fullmatch(r"[0-9a-f]{64}", checksum):
            raise InvalidSandbox("checksum must be a SHA-256 in hex (64 characters)")
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= self.max_size:
            raise InvalidSandbox(f"sandbox size must be 1 to {self.max_size} bytes, got {size!r}")
        if format not in FORMATS:
            raise InvalidSandbox(f"sandbox format must be one of {', '.join(FORMATS)}, got {format!r}")
        pfn = str(SandboxPFN(store=self.name, vo=identity.vo, group=identity.group, user=identity.user,
                             checksum=checksum, format=format))
        SandboxPFN.parse(pfn)  # a user or group name the PFN cannot carry
        now = self.clock.now()
        with self.database.begin() as conn:
            row = self._row(conn, pfn)
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(insert(sandboxes).values(
                            pfn=pfn, vo=identity.vo, owner=identity.user, owner_group=identity.group,
                            checksum=checksum, size=size, format=format, uploaded=False, created=now,
                            last_access=now))
                except IntegrityError:  # a concurrent request inserted it
                    row = self._row(conn, pfn)
            else:
                conn.execute(update(sandboxes).where(sandboxes.c.pfn == pfn).values(last_access=now))
        exists_now = bool(row and row["uploaded"]) and (self.root / SandboxPFN.parse(pfn).file_name).is_file()
        return pfn, exists_now

    def store(self, pfn: str, data: bytes | IO[bytes]) -> None:
        """Keep the bytes of ``pfn`` (registered by :meth:`init_upload`), checking size and SHA-256.

        A mismatch raises :class:`~dirac_core.errors.ChecksumMismatch` and keeps nothing.
        """
        parsed = SandboxPFN.parse(pfn)
        row = self.get(pfn)
        target = self.root / parsed.file_name
        target.parent.mkdir(parents=True, exist_ok=True)
        digest, seen = hashlib.sha256(), 0
        handle, temp = tempfile.mkstemp(dir=target.parent, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as out:
                for chunk in _chunks(data):
                    seen += len(chunk)
                    if seen > row["size"]:
                        break
                    digest.update(chunk)
                    out.write(chunk)
            if seen != row["size"] or digest.hexdigest() != row["checksum"]:
                raise ChecksumMismatch(f"sandbox {pfn}: the upload does not match the declared "
                                       f"size ({row['size']}) and SHA-256", pfn=pfn)
            os.replace(temp, target)
        finally:
            if os.path.exists(temp):
                os.unlink(temp)
        with self.database.begin() as conn:
            conn.execute(update(sandboxes).where(sandboxes.c.pfn == pfn)
                         .values(uploaded=True, last_access=self.clock.now()))

    # -- reading ----------------------------------------------------------------

    def get(self, pfn: str) -> dict[str, Any]:
        """The ``wms_sandboxes`` row of ``pfn``; ``NotFound`` when there is none."""
        SandboxPFN.parse(pfn)
        with self.database.connect() as conn:
            row = self._row(conn, pfn)
        if row is None:
            raise NotFound(f"sandbox {pfn} not found", pfn=pfn)
        return row

    def path(self, pfn: str) -> Path:
        """The file of an uploaded sandbox (its use is recorded); ``NotFound`` otherwise."""
        row = self.get(pfn)
        target = self.root / SandboxPFN.parse(pfn).file_name
        if not row["uploaded"] or not target.is_file():
            raise NotFound(f"sandbox {pfn} not uploaded", pfn=pfn)
        with self.database.begin() as conn:
            conn.execute(update(sandboxes).where(sandboxes.c.pfn == pfn).values(last_access=self.clock.now()))
        return target

    def open(self, pfn: str) -> IO[bytes]:
        """The bytes of an uploaded sandbox, to read (close it)."""
        return self.path(pfn).open("rb")

    # -- jobs -------------------------------------------------------------------

    def assign(self, job_id: int, kind: str, pfns: Iterable[str]) -> None:
        """Give ``job_id`` these uploaded sandboxes as ``kind`` ("input" or "output")."""
        if kind not in KINDS:
            raise InvalidSandbox(f"sandbox kind must be input or output, got {kind!r}")
        wanted = sorted(set(pfns))
        for pfn in wanted:
            if not self.get(pfn)["uploaded"]:
                raise NotFound(f"sandbox {pfn} not uploaded", pfn=pfn)
        with self.database.begin() as conn:
            have = set(conn.execute(select(sandbox_jobs.c.pfn).where(
                sandbox_jobs.c.job_id == job_id, sandbox_jobs.c.kind == kind)).scalars())
            rows = [{"job_id": job_id, "kind": kind, "pfn": p} for p in wanted if p not in have]
            if rows:
                conn.execute(insert(sandbox_jobs), rows)

    def unassign(self, job_ids: Iterable[int]) -> int:
        """Forget every sandbox of these jobs (the files stay until :meth:`clean`); rows removed."""
        ids = sorted(set(job_ids))
        removed = 0
        with self.database.begin() as conn:
            for start in range(0, len(ids), 1000):
                removed += conn.execute(delete(sandbox_jobs).where(
                    sandbox_jobs.c.job_id.in_(ids[start:start + 1000]))).rowcount or 0
        return removed

    def of_job(self, job_id: int) -> dict[str, list[str]]:
        """``{"input": [...], "output": [...]}``: the job's sandboxes."""
        with self.database.connect() as conn:
            found = conn.execute(select(sandbox_jobs.c.kind, sandbox_jobs.c.pfn)
                                 .where(sandbox_jobs.c.job_id == job_id)).all()
        return {kind: sorted(p for k, p in found if k == kind) for kind in KINDS}

    def jobs_of(self, pfn: str) -> list[tuple[int, str]]:
        """``(job_id, kind)`` of every job that has the sandbox ``pfn``."""
        with self.database.connect() as conn:
            return [(int(j), str(k)) for j, k in conn.execute(
                select(sandbox_jobs.c.job_id, sandbox_jobs.c.kind).where(sandbox_jobs.c.pfn == pfn))]

    # -- cleaning ---------------------------------------------------------------

    def clean(self, older_than: timedelta) -> int:
        """Remove the sandboxes no existing job has and unused for ``older_than``; how many."""
        cutoff = self.clock.now() - older_than
        with self.database.begin() as conn:
            conn.execute(delete(sandbox_jobs).where(~exists().where(jobs.c.job_id == sandbox_jobs.c.job_id)))
            unused = and_(sandboxes.c.last_access < cutoff,
                          ~exists().where(sandbox_jobs.c.pfn == sandboxes.c.pfn))
            gone = conn.execute(select(sandboxes.c.pfn, sandboxes.c.vo, sandboxes.c.checksum,
                                       sandboxes.c.format).where(unused)).all()
            for start in range(0, len(gone), 1000):
                conn.execute(delete(sandboxes).where(
                    sandboxes.c.pfn.in_([g.pfn for g in gone[start:start + 1000]]), unused))
            files = {(g.vo, g.checksum, g.format) for g in gone}
            kept = {(r.vo, r.checksum, r.format) for r in conn.execute(
                select(sandboxes.c.vo, sandboxes.c.checksum, sandboxes.c.format)
                .where(sandboxes.c.checksum.in_(sorted({f[1] for f in files})))).all()} if files else set()
        for vo, checksum, fmt in files - kept:
            (self.root / vo / f"sha256:{checksum}.{fmt}").unlink(missing_ok=True)
        return len(gone)

    def _row(self, conn: Connection, pfn: str) -> dict[str, Any] | None:
        row = conn.execute(select(sandboxes).where(sandboxes.c.pfn == pfn)).mappings().first()
        return dict(row) if row is not None else None


@attrs.frozen
class SandboxCleaning:
    """The periodic task removing sandboxes that no job has and nobody used for ``keep``."""

    store: SandboxStore
    keep: timedelta
    interval: timedelta = timedelta(hours=1)
    name: str = attrs.field(default="wms.sandbox_cleaning", init=False)

    def run_once(self) -> int:
        """One sweep; how many sandboxes were removed."""
        return self.store.clean(self.keep)


def _chunks(data: bytes | IO[bytes]) -> Iterable[bytes]:
    if isinstance(data, bytes | bytearray | memoryview):
        yield bytes(data)
        return
    while chunk := data.read(_CHUNK):
        yield chunk

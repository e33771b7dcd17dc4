"""Sandboxes: the content-addressed archives a job takes in (input) and leaves behind (output).

A sandbox is named by a PFN in DiracX's manner,
``SB:<store>|/<vo>/<group>/<user>/sha256:<checksum>.<format>``, and its bytes are kept once per
VO and content, as the object ``<vo>/sha256:<checksum>.<format>`` of a
:class:`~dirac_core.wms.sandbox_bytes.SandboxBytes`: files under a directory
(``<root>/<vo>/...``) or objects on a storage element (``<base path>/<vo>/...``). Two users
uploading the same archive get two PFNs (each must upload it: knowing a checksum gives no
access) and one object. An upload is written to a temporary file and checked (size and
SHA-256) before it is handed to the backend, so an object under its final name is always
complete and correct; a copy fetched from a storage element is checked again before use.

``wms_sandboxes`` records who uploaded which PFN and when it was last used; ``wms_sandbox_jobs``
which sandboxes a job has, as input or output. :meth:`SandboxStore.clean` removes the
sandboxes no existing job refers to and unused for a while, objects first: a record whose
object could not be removed stays, and the next cleaning tries again. Packing and safe
unpacking of archives are in :mod:`dirac_core.wms.sandbox_archives`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import attrs
from sqlalchemy import Connection, and_, delete, exists, insert, select, update
from sqlalchemy.exc import IntegrityError

from dirac_core.authorization import Action, allowed
from dirac_core.config.registry import Registry
from dirac_core.db.database import Database
from dirac_core.db.tables.wms import jobs, sandbox_jobs, sandboxes
from dirac_core.errors import (
    BulkResult,
    ChecksumMismatch,
    ConfigError,
    DiracError,
    JDLError,
    NotFound,
    StorageError,
)
from dirac_core.jdl.description import JobDescription
from dirac_core.model.clock import Clock
from dirac_core.model.identity import Identity
from dirac_core.wms.sandbox_bytes import DirectoryBytes, SandboxBytes, StorageElementBytes

if TYPE_CHECKING:
    from dirac_core.interware import Interware

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
log = logging.getLogger(__name__)
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
        """The name of its bytes in the store (one object per VO and content)."""
        return f"{self.vo}/sha256:{self.checksum}.{self.format}"


def default_root(database: Database) -> Path | None:
    """``sandboxes`` beside a SQLite file; None for other databases (or SQLite in memory)."""
    url = database.url
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return None
    return Path(str(url.database)).resolve().parent / "sandboxes"


def readable(identity: Identity, row: Mapping[str, Any], registry: Registry) -> bool:
    """True when ``identity`` may use the sandbox ``row`` as its own: the uploader, a member of a
    sharing group, an administrator (``sandbox.read`` of :mod:`dirac_core.authorization`)."""
    return allowed(identity, Action.SANDBOX_READ, row, registry=registry).allowed


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
    """Sandboxes recorded in the database, their bytes in a directory (``root``) or ``backend``."""

    def __init__(self, *, database: Database, clock: Clock, root: Path | str | None = None,
                 backend: SandboxBytes | None = None, name: str = STORE_NAME,
                 max_size: int = MAX_SIZE) -> None:
        if backend is None:
            if root is None:
                raise ValueError("give the store a root directory or a backend")
            backend = DirectoryBytes(root)
        elif root is not None:
            raise ValueError("give the store a root directory or a backend, not both")
        self.database = database
        #: where the bytes are: a directory, or a storage element
        self.backend: SandboxBytes = backend
        self.clock = clock
        self.name = name
        self.max_size = max_size

    @classmethod
    def for_interware(cls, interware: Interware, *, directory: Path | str | None = None,
                      se: str | None = None, se_path: str | None = None,
                      max_size: int = MAX_SIZE) -> SandboxStore | None:
        """The store of ``interware``: on ``directory`` or the storage element ``se`` when given,
        else where its configuration's ``[sandboxes]`` says, else in ``sandboxes`` beside a SQLite
        database file; None when nothing says where (another database and no setting).

        Raises ``ConfigError`` for both a directory and an SE, ``NotFound`` for an unknown SE.
        """
        settings = interware.config.sandboxes
        if directory is not None and se is not None:
            raise ConfigError([("sandboxes", "give either a directory or a storage element, not both")])
        if directory is None and se is None:
            directory, se = settings.directory, settings.se
        backend: SandboxBytes
        if se is not None:
            backend = StorageElementBytes(interware.storage[se], se_path or settings.se_path)
        else:
            root = Path(directory) if directory is not None else default_root(interware.database)
            if root is None:
                return None
            backend = DirectoryBytes(root)
        return cls(database=interware.database, backend=backend, clock=interware.clock, max_size=max_size)

    # -- uploading --------------------------------------------------------------

    def init_upload(self, identity: Identity, checksum: str, size: int, format: str) -> tuple[str, bool]:
        """The PFN of ``identity``'s sandbox with that content, and whether it is uploaded already
        (recorded, and its object still there)."""
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
        # an object lost behind the store's back is uploaded again
        exists_now = bool(row and row["uploaded"]) and self.backend.exists(SandboxPFN.parse(pfn).file_name)
        return pfn, exists_now

    def store(self, pfn: str, data: bytes | IO[bytes]) -> None:
        """Keep the bytes of ``pfn`` (registered by :meth:`init_upload`), checking size and SHA-256.

        A mismatch raises :class:`~dirac_core.errors.ChecksumMismatch` and keeps nothing; a
        backend that fails raises :class:`~dirac_core.errors.StorageError` (never a
        ``ChecksumMismatch``: the upload was right, the store could not keep it).
        """
        parsed = SandboxPFN.parse(pfn)
        row = self.get(pfn)
        digest, seen = hashlib.sha256(), 0
        handle, temp = tempfile.mkstemp(dir=self.backend.staging_dir(), prefix=".upload-")
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
            try:
                self.backend.put(Path(temp), parsed.file_name)
            except StorageError as exc:
                raise StorageError(f"sandbox {pfn}: the store could not keep it: {exc}", pfn=pfn) from exc
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

    @contextmanager
    def local_file(self, pfn: str) -> Iterator[Path]:
        """A local file with the bytes of an uploaded sandbox, for the ``with`` block (its use is
        recorded): the file itself in a directory store; else a copy fetched from the backend
        whose size and SHA-256 are checked (:class:`~dirac_core.errors.ChecksumMismatch`),
        deleted at the end of the block. ``NotFound`` when the sandbox is not uploaded (or its
        object is gone); ``StorageError`` when the backend fails.
        """
        row = self.get(pfn)
        name = SandboxPFN.parse(pfn).file_name
        if not row["uploaded"]:
            raise NotFound(f"sandbox {pfn} not uploaded", pfn=pfn)
        with self.database.begin() as conn:
            conn.execute(update(sandboxes).where(sandboxes.c.pfn == pfn).values(last_access=self.clock.now()))
        local = self.backend.local_path(name)
        if local is not None:
            if not local.is_file():
                raise NotFound(f"sandbox {pfn} not uploaded", pfn=pfn)
            yield local
            return
        with tempfile.TemporaryDirectory(prefix="sandbox-") as scratch:
            copy = Path(scratch) / name.rsplit("/", 1)[1]
            try:
                self.backend.get(name, copy)
            except NotFound:
                raise NotFound(f"sandbox {pfn} not uploaded (its object is gone)", pfn=pfn) from None
            digest, size = _sha256_file(copy)
            if (digest, size) != (row["checksum"], row["size"]):
                raise ChecksumMismatch(f"sandbox {pfn}: the stored copy has SHA-256 {digest} and {size} "
                                       f"bytes, expected {row['checksum']} and {row['size']}", pfn=pfn,
                                       expected=row["checksum"], actual=digest)
            yield copy

    def open(self, pfn: str) -> IO[bytes]:
        """The bytes of an uploaded sandbox, to read (close it); as checked as :meth:`local_file`."""
        with self.local_file(pfn) as path:
            return path.open("rb")  # a fetched copy's name goes away, the open file stays (POSIX)

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
        """Forget every sandbox of these jobs (the objects stay until :meth:`clean`); rows removed."""
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

    def clean(self, older_than: timedelta) -> BulkResult[str, None]:
        """Remove the sandboxes no existing job has and unused for ``older_than``.

        Objects go first, then their records: ``ok`` holds the PFNs removed, ``failed`` those
        kept because the backend could not remove their object (with the error; the next
        cleaning tries again). An object that a record being kept shares stays.
        """
        cutoff = self.clock.now() - older_than
        unused = and_(sandboxes.c.last_access < cutoff,
                      ~exists().where(sandbox_jobs.c.pfn == sandboxes.c.pfn))
        with self.database.begin() as conn:
            conn.execute(delete(sandbox_jobs).where(~exists().where(jobs.c.job_id == sandbox_jobs.c.job_id)))
            gone = conn.execute(select(sandboxes.c.pfn, sandboxes.c.vo, sandboxes.c.checksum,
                                       sandboxes.c.format).where(unused)).all()
            doomed = {g.pfn for g in gone}
            shared = {_object_name(r) for r in _same_contents(conn, gone) if r.pfn not in doomed}
        by_object: dict[str, list[str]] = {}
        for g in gone:
            if _object_name(g) not in shared:
                by_object.setdefault(_object_name(g), []).append(g.pfn)
        result: BulkResult[str, None] = BulkResult()
        for name, pfns in sorted(by_object.items()):
            try:
                self.backend.remove(name)
            except DiracError as exc:
                log.warning("sandbox cleaning: cannot remove %s (%d record(s) kept): %s",
                            name, len(pfns), exc)
                for pfn in pfns:  # one error each: raise_for_failures notes its item on it
                    error = StorageError(f"sandbox {pfn}: cannot remove {name}: {exc}", pfn=pfn)
                    error.__cause__ = exc
                    result.add_failed(pfn, error)
        removed = sorted(doomed - result.failed.keys())
        objects = set(by_object) - {_object_name(g) for g in gone if g.pfn in result.failed}
        with self.database.begin() as conn:
            still: set[str] = set()  # used again meanwhile: kept
            for start in range(0, len(removed), 1000):
                chunk = removed[start:start + 1000]
                conn.execute(delete(sandboxes).where(sandboxes.c.pfn.in_(chunk), unused))
                still.update(conn.execute(select(sandboxes.c.pfn).where(sandboxes.c.pfn.in_(chunk))).scalars())
            # used or uploaded again while their object was being removed (rare): checked below
            again = [r for r in _same_contents(conn, gone) if r.uploaded and _object_name(r) in objects]
        for pfn in removed:
            if pfn not in still:
                result.add_ok(pfn, None)
        missing = {name for name in {_object_name(r) for r in again} if not self._exists(name)}
        lost = [r.pfn for r in again if _object_name(r) in missing]
        if lost:  # their next init_upload asks for the bytes again
            with self.database.begin() as conn:
                conn.execute(update(sandboxes).where(sandboxes.c.pfn.in_(lost)).values(uploaded=False))
        return result

    def _exists(self, name: str) -> bool:
        try:
            return self.backend.exists(name)
        except DiracError:
            return False

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
        """One sweep; how many sandboxes were removed. Raises ``BulkFailures`` (after removing the
        others) when some could not be: their records stay for the next sweep."""
        result = self.store.clean(self.keep)
        if result.failed:  # the reasons in the message: the scheduler reports only that
            reasons = sorted({str(error.__cause__ or error) for error in result.failed.values()})
            result.raise_for_failures(f"sandbox cleaning ({'; '.join(reasons[:3])})")
        return len(result.ok)


def _chunks(data: bytes | IO[bytes]) -> Iterable[bytes]:
    if isinstance(data, bytes | bytearray | memoryview):
        yield bytes(data)
        return
    while chunk := data.read(_CHUNK):
        yield chunk


def _object_name(row: Any) -> str:
    """The object of a ``wms_sandboxes`` row (one per VO and content)."""
    return f"{row.vo}/sha256:{row.checksum}.{row.format}"


def _same_contents(conn: Connection, rows: Sequence[Any]) -> list[Any]:
    """Every ``wms_sandboxes`` row with a checksum among those of ``rows``."""
    checksums = sorted({r.checksum for r in rows})
    found: list[Any] = []
    for start in range(0, len(checksums), 1000):
        found += conn.execute(
            select(sandboxes.c.pfn, sandboxes.c.vo, sandboxes.c.checksum, sandboxes.c.format,
                   sandboxes.c.uploaded).where(sandboxes.c.checksum.in_(checksums[start:start + 1000]))).all()
    return found


def _sha256_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size

"""The data manager: files on storage elements and in the catalog, never one without the other.

- :meth:`DataManager.put_and_register`: upload (adler32 verified), then register the file and its
  replica. When registration fails, the failover hook records what is left to do (the request
  system's ``RegisterFile``); without one, the uploaded copy is removed again and the error raised:
  never a silent orphan.
- :meth:`DataManager.get_file`: the best replica (this site's SEs first, then Active before
  Degraded, unusable SEs skipped, saying why), checksum verified against the catalog's.
- :meth:`DataManager.replicate_and_register`: a source chosen the same way, copied third-party when
  the target's driver can copy from the source's URL, else (or when that copy fails, saying why) by
  download and upload, checked against the catalog, then registered (:mod:`dirac_core.dms.transfer`).
- :meth:`DataManager.remove_file` and :meth:`DataManager.remove_replica` (which refuses the last
  replica).
- :meth:`DataManager.register_files`: files already on storage registered in bulk (the request
  executor's ``RegisterFile``).

Hooks: ``dirac_file_registered`` after a file is registered, ``dirac_transfer_done`` after a copy
(``third_party`` says whether the target's storage copied it itself), ``dirac_data_operation`` after
each upload, replication or download, or its failure (bytes and seconds: accounting).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import attrs
import pluggy
from attrs import frozen

from dirac_core.checksums import adler32_file
from dirac_core.config.resources import AccessStatus
from dirac_core.dms.storage_element import Access, StorageElements
from dirac_core.dms.transfer import TransferMethod, replicate
from dirac_core.errors import BulkResult, CatalogError, DiracError, NotFound, StorageError
from dirac_core.model.lfn import normalize_lfn
from dirac_core.plugins.catalog import Catalog, FileEntry

__all__ = ["DataManager", "FailoverRecorder", "StoredFile"]

log = logging.getLogger(__name__)


class FailoverRecorder(Protocol):
    """Where work that could not be done now is recorded to be done later (the request system)."""

    def __call__(self, operation: str, lfn: str, **arguments: Any) -> str:
        """Record ``operation`` on ``lfn``; the id of the record."""


@frozen(kw_only=True)
class StoredFile:
    """A file put somewhere: where, its size and adler32, and whether the catalog has it yet."""

    lfn: str
    se: str
    size: int
    checksum: str
    registered: bool
    failover: str | None = None  # the id of the failover record when registration is pending
    #: How a replica's bytes travelled (None: an upload, or a replica that was there already).
    method: TransferMethod | None = None
    #: Why the third-party copy tried failed, when the replica then went by download and upload.
    tpc_error: str | None = None


class DataManager:
    """Moves files between local disk and SEs and keeps the catalog right.

    ``catalog`` is a catalog (or a :class:`~dirac_core.dms.filecatalog.FileCatalog`, or a view made
    with ``acting_as``); ``storage`` the SEs; ``failover`` records what must be retried.
    """

    def __init__(self, *, catalog: Catalog, storage: StorageElements,
                 hooks: pluggy.PluginManager | None = None, failover: FailoverRecorder | None = None) -> None:
        self.catalog = catalog
        self.storage = storage
        self.hooks = hooks
        self.failover = failover

    # -- writing -------------------------------------------------------------------

    def put_and_register(self, lfn: str, source: Path | str, se: str, *,
                         guid: str | None = None) -> StoredFile:
        """Upload ``source`` to ``se`` as ``lfn`` and register it there."""
        lfn = normalize_lfn(lfn)
        source = Path(source)
        checksum = adler32_file(source)
        started = time.monotonic()
        try:
            stat = self.storage[se].put(source, lfn, checksum=checksum)
        except DiracError as exc:
            self._operation("Upload", lfn, started, target=se, error=exc)
            raise
        self._operation("Upload", lfn, started, target=se, size=stat.size)
        entry = FileEntry(lfn=lfn, size=stat.size, checksum=checksum, guid=guid or str(uuid.uuid4()))
        try:
            self._register(entry, se)
        except DiracError as exc:
            if self.failover is not None:
                try:
                    record = self.failover("RegisterFile", lfn, se=se, size=stat.size, checksum=checksum,
                                           guid=entry.guid)
                except DiracError:
                    self.storage[se].remove(lfn)  # neither registered nor recorded: no orphan
                    raise
                log.warning("%s on %s: registration failed (%s); failover request %s", lfn, se, exc, record)
                return StoredFile(lfn=lfn, se=se, size=stat.size, checksum=checksum, registered=False,
                                  failover=record)
            self.storage[se].remove(lfn)  # no silent orphan
            raise
        self._notify("dirac_file_registered", lfns=[lfn],
                     metadata={lfn: {"Size": stat.size, "Checksum": checksum, "SE": se}})
        return StoredFile(lfn=lfn, se=se, size=stat.size, checksum=checksum, registered=True)

    def register_files(self, entries: Sequence[FileEntry], ses: Sequence[str]) -> BulkResult[str, None]:
        """Register files that are on storage already: each entry, with a replica on every SE of
        ``ses``, in two bulk catalog calls. The catalog's answer per LFN (an identical entry
        registered before succeeds); ``dirac_file_registered`` for the files registered."""
        result: BulkResult[str, None] = BulkResult()
        added = self.catalog.add_files(entries)
        for lfn, error in added.failed.items():
            result.add_failed(lfn, error)
        good = [e for e in entries if e.lfn not in result.failed]
        if good and ses:
            replicas = self.catalog.add_replicas({e.lfn: list(ses) for e in good})
            for lfn, error in replicas.failed.items():
                result.add_failed(lfn, error)
        done = [e for e in good if e.lfn not in result.failed]
        for entry in done:
            result.add_ok(entry.lfn, None)
        if done:
            self._notify("dirac_file_registered", lfns=[e.lfn for e in done], metadata={
                e.lfn: {"Size": e.size, "Checksum": e.checksum, "SE": ses[0] if ses else None} for e in done})
        return result

    def _register(self, entry: FileEntry, se: str) -> None:
        added = self.catalog.add_files([entry])
        if entry.lfn in added.failed:
            raise added.failed[entry.lfn]
        replicas = self.catalog.add_replicas({entry.lfn: [se]})
        if entry.lfn in replicas.failed:
            raise replicas.failed[entry.lfn]

    # -- choosing replicas -------------------------------------------------------------

    def _replicas(self, lfn: str) -> tuple[FileEntry, list[str], list[str]]:
        """The entry, usable SEs in preference order, and why the others were skipped."""
        entry = _one(self.catalog.get_files([lfn]), lfn)
        ses = sorted(_one(self.catalog.get_replicas([lfn]), lfn))
        if not ses:
            raise NotFound(f"{lfn} has no replica", lfn=lfn)
        usable: list[tuple[int, int, str]] = []
        skipped: list[str] = []
        for name in ses:
            try:
                se = self.storage[name]
            except NotFound:
                skipped.append(f"{name}: not configured")
                continue
            if not se.allows(Access.READ):
                skipped.append(f"{name}: {se.status(Access.READ)} for read")
                continue
            local = 0 if se.site is not None and se.site == self.storage.local_site else 1
            degraded = 0 if se.status(Access.READ) is AccessStatus.ACTIVE else 1
            usable.append((local, degraded + (1 if se.is_tape else 0), name))
        return entry, [name for *_, name in sorted(usable)], skipped

    def get_file(self, lfn: str, destination: Path | str) -> Path:
        """Fetch ``lfn`` into the directory ``destination``; its path. Each replica is tried in turn
        (a bad checksum or a failing SE moves on to the next); ``StorageError`` says why none did."""
        lfn = normalize_lfn(lfn)
        entry, ses, why = self._replicas(lfn)
        target = Path(destination) / lfn.rsplit("/", 1)[1]
        target.parent.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        for name in ses:
            try:
                self.storage[name].get(lfn, target, checksum=entry.checksum)
            except (StorageError, NotFound) as exc:
                why.append(f"{name}: {exc}")
                continue
            self._operation("Download", lfn, started, source=name, size=entry.size or 0)
            return target
        error = StorageError(f"no replica of {lfn} could be read: " + "; ".join(why), lfn=lfn)
        self._operation("Download", lfn, started, error=error)
        raise error

    def replicate_and_register(self, lfn: str, target_se: str, *, source_se: str | None = None) -> StoredFile:
        """Copy ``lfn`` to ``target_se`` from ``source_se`` (or the best replica) and register it.

        Third-party when the target can copy from the source, else download and upload (see
        :func:`~dirac_core.dms.transfer.replicate`). Raises :class:`ChecksumMismatch` when the copy
        differs from the catalog's size or adler32 (the copy removed, nothing registered) and
        :class:`StorageError` when no source could be read.
        """
        lfn = normalize_lfn(lfn)
        entry, ses, why = self._replicas(lfn)
        if target_se in _one(self.catalog.get_replicas([lfn]), lfn):
            return StoredFile(lfn=lfn, se=target_se, size=entry.size, checksum=entry.checksum or "",
                              registered=True)
        sources = [source_se] if source_se is not None else [s for s in ses if s != target_se]
        started = time.monotonic()
        try:
            done = replicate(self.storage, entry, sources, target_se, why=why)
        except DiracError as exc:
            self._operation("Replication", lfn, started, source=source_se or "", target=target_se, error=exc)
            raise
        self._operation("Replication", lfn, started, source=done.source, target=target_se, size=done.size)
        copied = StoredFile(lfn=lfn, se=target_se, size=done.size, checksum=entry.checksum or "",
                            registered=True, method=done.method, tpc_error=done.tpc_error)
        try:
            refused = self.catalog.add_replicas({lfn: [target_se]}).failed.get(lfn)
        except DiracError as exc:  # the catalog did not answer: the same as refusing this file
            refused = exc
        if refused is not None:
            if self.failover is None:
                self.storage[target_se].remove(lfn)
                raise refused
            try:
                record = self.failover("RegisterReplica", lfn, se=target_se)
            except DiracError:
                self.storage[target_se].remove(lfn)  # neither registered nor recorded: no orphan
                raise
            return attrs.evolve(copied, registered=False, failover=record)
        self._notify("dirac_transfer_done", lfns=[lfn], source=done.source, target=target_se,
                     third_party=done.method is TransferMethod.THIRD_PARTY)
        return copied

    # -- removing ----------------------------------------------------------------------

    def remove_replica(self, lfn: str, se: str) -> None:
        """Remove one replica; refuses the last one (``CatalogError``): use :meth:`remove_file`."""
        lfn = normalize_lfn(lfn)
        ses = _one(self.catalog.get_replicas([lfn]), lfn)
        if se not in ses:
            return
        if len(ses) == 1:
            raise CatalogError(f"{se} holds the last replica of {lfn}: remove the file instead",
                               lfn=lfn, se=se)
        self._drop_replica(lfn, se)

    def _drop_replica(self, lfn: str, se: str) -> None:
        """Forget the replica in the catalog, then delete the copy. The catalog goes first because
        it checks that the caller may (storage does not); when the copy cannot be deleted the
        replica is registered again, so that the catalog never loses a copy that is there."""
        removed = self.catalog.remove_replicas({lfn: [se]})
        if lfn in removed.failed:
            raise removed.failed[lfn]
        try:
            self.storage[se].remove(lfn)
        except DiracError:
            self.catalog.add_replicas({lfn: [se]})
            raise

    def remove_file(self, lfns: Sequence[str]) -> BulkResult[str, None]:
        """Remove every replica (see :meth:`remove_replica` for the order), then the catalog
        entry; a missing file is removed already."""
        result: BulkResult[str, None] = BulkResult()
        for given in lfns:
            try:
                lfn = normalize_lfn(given)
                replicas = self.catalog.get_replicas([lfn])
                for se in sorted(replicas.ok.get(lfn, ())):
                    self._drop_replica(lfn, se)
                removed = self.catalog.remove_files([lfn])
                if lfn in removed.failed:
                    raise removed.failed[lfn]
            except DiracError as exc:
                result.add_failed(given, exc)
                continue
            result.add_ok(given, None)
        return result

    def _operation(self, operation: str, lfn: str, started: float, *, source: str = "", target: str = "",
                   size: int = 0, error: DiracError | None = None) -> None:
        """``dirac_data_operation`` for one file (``started``: ``time.monotonic()`` before the copy);
        a failing implementation is logged: the file moved (or did not) whatever it says."""
        try:
            self._notify("dirac_data_operation", operation=operation, lfns=[lfn], source=source,
                         target=target, size=size, seconds=max(0.0, time.monotonic() - started),
                         error=None if error is None else str(error))
        except Exception:
            log.exception("dirac_data_operation failed for %s of %s", operation, lfn)

    def _notify(self, hook: str, **arguments: Any) -> None:
        if self.hooks is None:
            return
        caller: Callable[..., Any] | None = getattr(self.hooks.hook, hook, None)
        if caller is not None:
            caller(**arguments)


def _one(result: BulkResult[str, Any], lfn: str) -> Any:
    if lfn in result.failed:
        raise result.failed[lfn]
    return result.ok[lfn]

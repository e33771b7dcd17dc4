"""Making a replica: third-party copy when the target can, else download and upload; verified either way.

:func:`replicate` goes through the candidate source SEs in the order given
(the data manager's: this site's SEs first, then Active before Degraded).
For each source:

1. When the target SE has a protocol that can copy from one of the source's
   URLs (a :class:`~dirac_core.plugins.storage.ThirdPartyCopy` driver: XRootD
   or HTTP third-party copy, an S3 server-side copy, a copy between file
   systems of this machine), the target copies the file itself. The copy's
   size and adler32 are then compared with the catalog's (the copy is read
   back when the target cannot give its checksum): a difference removes the
   copy and raises :class:`~dirac_core.errors.ChecksumMismatch`, so nothing
   gets registered. Any other failure of the copy (a server refusing it, an
   unreachable one, a missing source) is logged and kept as the reason, and
   the file goes by step 2.
2. The file is downloaded from the source into a scratch directory (checked
   against the catalog's adler32) and uploaded to the target (checked again).
   A source that cannot be read moves on to the next one.

:class:`~dirac_core.errors.StorageError` says why no source worked.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path

from attrs import frozen

from dirac_core.dms.storage_element import StorageElement, StorageElements
from dirac_core.errors import ChecksumMismatch, NotFound, StorageError
from dirac_core.plugins.catalog import FileEntry
from dirac_core.plugins.storage import FileStat

__all__ = ["Transfer", "TransferMethod", "replicate"]

log = logging.getLogger(__name__)


class TransferMethod(StrEnum):
    """How the bytes of a replica travelled."""

    #: The target's storage copied from the source's URL itself (for ``file`` storage: a copy
    #: between file systems of this machine); nothing went through a scratch file.
    THIRD_PARTY = "third-party"
    #: Downloaded from the source into a scratch directory, then uploaded to the target.
    DOWNLOAD_UPLOAD = "download+upload"


@frozen(kw_only=True)
class Transfer:
    """A replica made: from which SE, how, its size, and why third-party copy was not used if it failed."""

    source: str
    method: TransferMethod
    size: int
    #: Why the third-party copies tried failed, when the file then went by download and upload.
    tpc_error: str | None = None


def replicate(storage: StorageElements, entry: FileEntry, sources: Sequence[str], target: str, *,
              why: list[str]) -> Transfer:
    """Copy ``entry`` from the first of ``sources`` that works to the SE ``target``.

    ``why`` holds the reasons sources were skipped so far; reasons found here are added to it.
    Raises :class:`ChecksumMismatch` when a third-party copy differs from the catalog's size or
    checksum (the copy removed), the target's errors of an upload, and :class:`StorageError`
    when no source could be read.
    """
    target_se = storage[target]
    tpc_errors: list[str] = []
    for name in sources:
        try:
            urls = storage[name].urls(entry.lfn)
        except (StorageError, NotFound) as exc:
            why.append(f"{name}: {exc}")
            continue
        if target_se.can_copy_from(urls):
            try:
                size = _third_party(target_se, urls, entry)
            except ChecksumMismatch:
                raise
            except (StorageError, NotFound) as exc:
                tpc_errors.append(f"third-party copy from {name}: {exc}")
                log.warning("%s: third-party copy from %s to %s failed (%s); downloading and uploading "
                            "instead", entry.lfn, name, target, exc)
            else:
                log.info("%s: third-party copy from %s to %s", entry.lfn, name, target)
                return Transfer(source=name, method=TransferMethod.THIRD_PARTY, size=size)
        with tempfile.TemporaryDirectory(prefix="dirac-replicate-") as scratch:
            local = Path(scratch) / "copy"
            try:
                storage[name].get(entry.lfn, local, checksum=entry.checksum)
            except (StorageError, NotFound) as exc:
                why.append(f"{name}: {exc}")
                continue
            stat = target_se.put(local, entry.lfn, checksum=entry.checksum)
        return Transfer(source=name, method=TransferMethod.DOWNLOAD_UPLOAD, size=stat.size,
                        tpc_error="; ".join(tpc_errors) or None)
    raise StorageError(f"no source replica of {entry.lfn} could be read: " + "; ".join(why + tpc_errors),
                       lfn=entry.lfn)


def _third_party(target_se: StorageElement, urls: Sequence[str], entry: FileEntry) -> int:
    """Have ``target_se`` copy ``entry`` from one of ``urls`` and check the copy; its size.

    A :class:`ChecksumMismatch` (from the copy or the check) removes the copy before it propagates.
    """
    try:
        _, stat = target_se.copy_from(urls, entry.lfn)
        return _verified(target_se, entry, stat)
    except ChecksumMismatch:
        with contextlib.suppress(StorageError):
            target_se.remove(entry.lfn)
        raise


def _verified(target_se: StorageElement, entry: FileEntry, stat: FileStat) -> int:
    """Compare the copy with the catalog's size and adler32; its size, or :class:`ChecksumMismatch`.

    The checksum the copy reported is used first, then the one the SE gives; an SE that gives
    none has the copy read back (and checked by the download) into a scratch directory.
    """
    lfn, se = entry.lfn, target_se.name
    if stat.checksum is None:
        stat = target_se.stat(lfn)
    if stat.size != entry.size:
        raise ChecksumMismatch(f"{se}: the copy of {lfn} has {stat.size} bytes, the catalog says "
                               f"{entry.size}; the copy was removed", lfn=lfn, se=se,
                               expected=str(entry.size), actual=str(stat.size))
    if entry.checksum is None:
        return stat.size
    if stat.checksum is None:
        with tempfile.TemporaryDirectory(prefix="dirac-verify-") as scratch:
            target_se.get(lfn, Path(scratch) / "copy", checksum=entry.checksum)
    elif stat.checksum.lower() != entry.checksum.lower():
        raise ChecksumMismatch(f"{se}: the copy of {lfn} has adler32 {stat.checksum}, the catalog says "
                               f"{entry.checksum}; the copy was removed", lfn=lfn, se=se,
                               expected=entry.checksum, actual=stat.checksum)
    return stat.size

"""XRootD third-party copy through the client bindings' ``CopyProcess``, and what its answer means.

The client opens the source and the destination and hands the destination
server a rendezvous key; the destination server (``ofs.tpc``) then pulls the
file from the source server, which (``ofs.tpc`` too) matches the key, the
client and the destination's host name. ``thirdparty="only"`` forbids the
bindings from falling back to streaming the bytes through this process, and
``checksummode="end2end"`` has the client compare the adler32 both servers
compute once the copy is closed.

XRootD's rendezvous matches the destination host name the client gives
(the host of the destination URL) with the name under which the source
server sees the destination's connection: on one machine, name the
destination ``127.0.0.1``, not ``localhost`` (which the servers do not
resolve back), or the source waits for a matching grant until it expires.
"""

from __future__ import annotations

from typing import Any

from attrs import frozen

from dirac_core.checksums import normalise_adler32
from dirac_core.errors import ChecksumMismatch, NotFound, StorageError

__all__ = ["XRD_NOT_FOUND", "CopyResult", "third_party_copy"]

#: XRootD's kXR_NotFound: the server answered that the path does not exist.
XRD_NOT_FOUND = 3011
#: XrdCl's errCheckSumError: the copy ended with checksums that differ.
_XRD_CHECKSUM_ERROR = 305


def _adler32(value: Any) -> str | None:
    """The adler32 of a ``CopyProcess`` result (``"adler32:8b3025fd"``), or None."""
    kind, _, digits = str(value or "").partition(":")
    if kind.lower() != "adler32":
        return None
    try:
        return normalise_adler32(digits)
    except ValueError:
        return None


@frozen
class CopyResult:
    """The outcome of one third-party copy: the status and what the job reported."""

    status: Any
    size: int = 0
    source_checksum: str | None = None
    target_checksum: str | None = None

    def error(self, source_url: str, url: str) -> StorageError | NotFound:
        """Our exception for a failed copy of ``source_url`` to ``url``."""
        message = " ".join(str(self.status.message).split()).removeprefix("[ERROR] ")
        message = message.replace("Server responded with an error: ", "")
        if int(self.status.code) == _XRD_CHECKSUM_ERROR:
            return ChecksumMismatch(f"the third-party copy of {source_url} to {url} has adler32 "
                                    f"{self.target_checksum}, the source {self.source_checksum}; "
                                    "the copy was removed", url=url, expected=self.source_checksum,
                                    actual=self.target_checksum)
        if int(self.status.errno) == XRD_NOT_FOUND:
            return NotFound(f"no file {source_url} to copy to {url}", url=source_url)
        return StorageError(f"third-party copy of {source_url} to {url} failed: {message}", url=url,
                            source=source_url, errno=int(self.status.errno), code=int(self.status.code))


def third_party_copy(process: Any, source_url: str, url: str, *, timeout: int) -> CopyResult:
    """Run one server-to-server copy of ``source_url`` to ``url`` in the new ``CopyProcess``.

    ``timeout`` (seconds) bounds the whole copy. Parents of ``url`` are created and an existing
    file replaced; a copy that fails is not persisted (``posc``).
    """
    process.add_job(source_url, url, force=True, posc=True, mkdir=True, thirdparty="only",
                    checksummode="end2end", checksumtype="adler32", tpctimeout=timeout)
    status = process.prepare()
    if not status.ok:
        return CopyResult(status)
    status, results = process.run()
    job = results[0] if results else {}
    return CopyResult(job.get("status", status), size=int(job.get("size", 0)),
                      source_checksum=_adler32(job.get("sourceCheckSum")),
                      target_checksum=_adler32(job.get("targetCheckSum")))

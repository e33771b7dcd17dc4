"""SE test transfers: a tiny file written, read back and removed through the storage element.

The test goes through :class:`~dirac_core.dms.storage_element.StorageElement` (its protocol
drivers, its adler32 checks), as the data manager's transfers do, but on SEs built without their
statuses: an SE banned for writes must still be tried, or it could never come back. Nothing is
registered in a catalog. Each step is tried only if it can be: no read or removal after a failed
write (the removal is still tried after a failed read, so that no test file is left behind).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from dirac_core.dms.storage_element import StorageElement
from dirac_core.model.clock import Clock
from dirac_core.model.resource_status import TransferTest

__all__ = ["probe_lfn", "run_test_transfer"]


def probe_lfn(directory: str, se: str) -> str:
    """The LFN of the test file of ``se`` under ``directory``."""
    return f"{directory.rstrip('/')}/{se}"


def _error(step: str, exc: BaseException) -> str:
    return f"{step}: {type(exc).__name__}: {exc}"


def run_test_transfer(se: StorageElement, directory: str, clock: Clock, *,
                      work_dir: Path | None = None) -> TransferTest:
    """Test ``se`` with a file under ``directory``; the outcome (never raises for an SE failure)."""
    lfn = probe_lfn(directory, se.name)
    started = time.monotonic()
    checked = clock.now()
    payload = f"dirac-core test transfer to {se.name} at {checked.isoformat()}\n".encode()
    write_ok: bool | None = None
    read_ok: bool | None = None
    remove_ok: bool | None = None
    errors: list[str] = []
    with tempfile.TemporaryDirectory(dir=work_dir, prefix="rss-test-") as folder:
        source, copy = Path(folder) / "upload", Path(folder) / "download"
        source.write_bytes(payload)
        try:
            se.put(source, lfn)
            write_ok = True
        except Exception as exc:
            write_ok = False
            errors.append(_error("write", exc))
        if write_ok:
            try:
                se.get(lfn, copy)
                read_ok = copy.read_bytes() == payload
                if not read_ok:
                    errors.append("read: the copy read back differs from the file written")
            except Exception as exc:
                read_ok = False
                errors.append(_error("read", exc))
            try:
                se.remove(lfn)
                remove_ok = True
            except Exception as exc:
                remove_ok = False
                errors.append(_error("remove", exc))
    return TransferTest(se=se.name, checked=checked, write_ok=write_ok, read_ok=read_ok, remove_ok=remove_ok,
                        error="; ".join(errors), seconds=time.monotonic() - started)

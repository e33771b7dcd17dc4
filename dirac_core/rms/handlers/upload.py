"""``PutAndRegister``: upload a local file (the file's ``pfn``) to the one target SE and register it.

A local file that is missing, or whose adler32 differs from the checksum the request gives,
fails. An upload whose registration fails is Done here: the data manager's failover inserts a
``RegisterFile`` operation right after this one (DIRAC marks the file Failed instead, which
with its own roll-up rules would fail the request before the registration is tried).
"""

from __future__ import annotations

from pathlib import Path

from dirac_core.checksums import adler32_file
from dirac_core.errors import DiracError
from dirac_core.model.request import RequestFileStatus
from dirac_core.plugins.operations import HandlerContext, OperationHandler, OperationType
from dirac_core.rms.handlers.outcomes import settle
from dirac_core.rms.request import Operation, Request

__all__ = ["PutAndRegister"]


class PutAndRegister(OperationHandler):
    """Uploads local files (see the module's description)."""

    spec = OperationType(name="PutAndRegister", operation_needs=("target_se",), file_needs=("pfn",),
                         single_target=True)

    def execute(self, request: Request, operation: Operation, context: HandlerContext) -> None:
        dm = context.data_manager()
        [target] = operation.target_se
        for file in operation.waiting_files:
            source = Path(file.pfn)
            if not source.is_file():
                file.set_status(RequestFileStatus.FAILED, f"no local file {file.pfn}")
                continue
            if file.checksum and file.checksum_type in (None, "ADLER32"):
                found = adler32_file(source)
                if found.lower() != file.checksum.lower():
                    file.set_status(RequestFileStatus.FAILED,
                                    f"{file.pfn} has adler32 {found}, the request says {file.checksum}")
                    continue
            try:
                dm.put_and_register(file.lfn, source, target, guid=file.guid)
            except DiracError as exc:
                settle(file, exc)
                continue
            file.set_status(RequestFileStatus.DONE)

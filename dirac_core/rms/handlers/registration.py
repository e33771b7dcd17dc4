"""``RegisterFile`` and ``RegisterReplica``: catalog entries for files already on storage.

- ``RegisterFile`` registers every waiting file (size, checksum, GUID from the request) with a
  replica at each target SE, in two bulk catalog calls. An identical entry registered before
  succeeds; an entry with other metadata, a GUID another file has, a refused permission fail
  the file with the catalog's reason.
- ``RegisterReplica`` adds a replica at each target SE. A file the catalog does not know is Done
  when the target SEs do not hold it either (nothing to register), and fails when one does
  (DIRAC's rule: a copy no catalog knows needs a person).
"""

from __future__ import annotations

from collections.abc import Mapping

from dirac_core.errors import DiracError, NotFound
from dirac_core.model.request import RequestFileStatus
from dirac_core.plugins.catalog import FileEntry
from dirac_core.plugins.operations import HandlerContext, OperationHandler, OperationType
from dirac_core.rms.handlers.outcomes import settle_item
from dirac_core.rms.request import Operation, Request, RequestFile

__all__ = ["RegisterFile", "RegisterReplica"]


class _CatalogOnly(OperationHandler):
    """Registration touches no storage: the target SEs need only exist."""

    def storage_access(self, operation: Operation) -> Mapping[str, str | None]:
        return dict.fromkeys((*operation.source_se, *operation.target_se))


class RegisterFile(_CatalogOnly):
    """Registers files and their replicas (see the module's description)."""

    spec = OperationType(name="RegisterFile", operation_needs=("target_se",), file_needs=("size", "checksum"))

    def execute(self, request: Request, operation: Operation, context: HandlerContext) -> None:
        dm = context.data_manager()
        files = operation.waiting_files
        entries = [FileEntry(lfn=f.lfn, size=f.size or 0, checksum=f.checksum, guid=f.guid) for f in files]
        result = dm.register_files(entries, operation.target_se)
        for file in files:
            if file.lfn in result.ok:
                file.set_status(RequestFileStatus.DONE)
            else:
                settle_item(file, result.failed[file.lfn])


class RegisterReplica(_CatalogOnly):
    """Registers replicas (see the module's description)."""

    spec = OperationType(name="RegisterReplica", operation_needs=("target_se",))

    def execute(self, request: Request, operation: Operation, context: HandlerContext) -> None:
        dm = context.data_manager()
        files = operation.waiting_files
        added = dm.catalog.add_replicas({f.lfn: list(operation.target_se) for f in files})
        for file in files:
            error = added.failed.get(file.lfn)
            if error is None:
                file.set_status(RequestFileStatus.DONE)
            elif isinstance(error, NotFound):
                self._unknown(file, operation, context)
            else:
                settle_item(file, error)

    @staticmethod
    def _unknown(file: RequestFile, operation: Operation, context: HandlerContext) -> None:
        """``file`` is in no catalog: Done when no target holds it, Failed when one does."""
        held = []
        for se in operation.target_se:
            try:
                if context.storage[se].exists(file.lfn):
                    held.append(se)
            except DiracError as exc:  # cannot tell now: ask again next time
                file.error = f"{file.lfn} is not in the catalog and {se} cannot be checked: {exc}"[:2048]
                return
        if held:
            file.set_status(RequestFileStatus.FAILED,
                            f"{file.lfn} is not in the catalog but {', '.join(held)} holds it")
        else:
            file.set_status(RequestFileStatus.DONE)

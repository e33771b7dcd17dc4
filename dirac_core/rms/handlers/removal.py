"""``RemoveFile``, ``RemoveReplica`` and ``PhysicalRemoval``.

- ``RemoveFile``: every replica, then the catalog entry
  (:meth:`~dirac_core.dms.manager.DataManager.remove_file`). A file the catalog does not know is
  removed already (Done). A file with a replica on an SE that refuses removal now waits (the
  request is delayed); one with a replica on an SE the configuration does not know fails.
- ``RemoveReplica``: the replica at each target SE, storage first, then catalog. A file or
  replica that is not there is Done. The last replica is refused: the file fails with the
  reason (remove the file instead). The targets are checked for removal access before.
- ``PhysicalRemoval``: the copy at each target SE only; the catalog is not touched (absent
  counts as removed).
"""

from __future__ import annotations

from collections.abc import Mapping

from dirac_core.dms.storage_element import Access
from dirac_core.errors import DiracError, NotFound
from dirac_core.model.request import RequestFileStatus
from dirac_core.plugins.operations import HandlerContext, OperationHandler, OperationType
from dirac_core.rms.handlers.outcomes import settle, settle_item
from dirac_core.rms.request import Operation, Request, RequestFile

__all__ = ["PhysicalRemoval", "RemoveFile", "RemoveReplica"]


class _RemovesFromTargets(OperationHandler):
    def storage_access(self, operation: Operation) -> Mapping[str, str | None]:
        return dict.fromkeys(operation.target_se, Access.REMOVE.value)


class RemoveFile(OperationHandler):
    """Removes files with all their replicas (see the module's description)."""

    spec = OperationType(name="RemoveFile")

    def execute(self, request: Request, operation: Operation, context: HandlerContext) -> None:
        dm = context.data_manager()
        files = operation.waiting_files
        found = dm.catalog.get_replicas([f.lfn for f in files])
        ready: dict[str, RequestFile] = {}
        for file in files:
            error = found.failed.get(file.lfn)
            if isinstance(error, NotFound):
                file.set_status(RequestFileStatus.DONE)
            elif error is not None:
                settle_item(file, error)
            elif self._removable(request, file, found.ok[file.lfn], context):
                ready[file.lfn] = file
        removed = dm.remove_file(list(ready))
        for lfn, file in ready.items():
            if lfn in removed.ok:
                file.set_status(RequestFileStatus.DONE)
            else:
                settle(file, removed.failed[lfn])

    @staticmethod
    def _removable(request: Request, file: RequestFile, ses: frozenset[str], context: HandlerContext) -> bool:
        """Whether every SE holding ``file`` allows removal now; records why not."""
        known = set(context.storage.names())
        unknown = sorted(ses - known)
        if unknown:
            file.set_status(RequestFileStatus.FAILED,
                            f"{file.lfn} has a replica on unknown storage element(s) {', '.join(unknown)}")
            return False
        refused = [f"{se} is {context.storage[se].status(Access.REMOVE)} for remove" for se in sorted(ses)
                   if not context.storage[se].allows(Access.REMOVE)]
        if refused:
            file.error = "; ".join(refused)
            context.delay(request, context.banned_delay)
            return False
        return True


class RemoveReplica(_RemovesFromTargets):
    """Removes replicas, never the last one (see the module's description)."""

    spec = OperationType(name="RemoveReplica", operation_needs=("target_se",))

    def execute(self, request: Request, operation: Operation, context: HandlerContext) -> None:
        dm = context.data_manager()
        files = operation.waiting_files
        found = dm.catalog.get_replicas([f.lfn for f in files])
        for file in files:
            error = found.failed.get(file.lfn)
            if isinstance(error, NotFound):
                file.set_status(RequestFileStatus.DONE)
                continue
            if error is not None:
                settle_item(file, error)
                continue
            left = set(found.ok[file.lfn])
            try:
                for se in operation.target_se:
                    if se not in left:
                        continue
                    if left == {se}:
                        file.set_status(RequestFileStatus.FAILED, f"{se} holds the last replica of "
                                                                  f"{file.lfn}: remove the file instead")
                        break
                    dm.remove_replica(file.lfn, se)
                    left.discard(se)
                else:
                    file.set_status(RequestFileStatus.DONE)
            except DiracError as exc:
                settle(file, exc)


class PhysicalRemoval(_RemovesFromTargets):
    """Removes copies from the target SEs' storage only."""

    spec = OperationType(name="PhysicalRemoval", operation_needs=("target_se",))

    def execute(self, request: Request, operation: Operation, context: HandlerContext) -> None:
        for file in operation.waiting_files:
            try:
                for se in operation.target_se:
                    context.storage[se].remove(file.lfn)
            except DiracError as exc:
                settle(file, exc)
                continue
            file.set_status(RequestFileStatus.DONE)

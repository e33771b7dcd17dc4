"""``ReplicateAndRegister``: copy each file to every target SE and register the new replicas.

For each waiting file (one bulk catalog lookup for all of them):

- a file the catalog does not know, or without any replica, fails (nothing to copy);
- a file already at every target is Done;
- a file whose every replica is on an SE that refuses reading now (Banned, Probing) waits: the
  request is delayed by the executor's ``banned_delay`` (DIRAC: "only inactive replicas");
- otherwise :meth:`~dirac_core.dms.manager.DataManager.replicate_and_register` runs for each
  missing target, from the operation's source SEs that hold a replica (in order), else from the
  best replica. A copy whose registration fails is Done here: the data manager's failover
  inserts a ``RegisterReplica`` operation right after this one.

A file with a target left to do stays Waiting with the error; a permanent error fails it.
"""

from __future__ import annotations

from collections.abc import Iterable

from dirac_core.dms.manager import DataManager
from dirac_core.dms.storage_element import Access, StorageElements
from dirac_core.errors import DiracError, NotFound
from dirac_core.model.request import RequestFileStatus
from dirac_core.plugins.operations import HandlerContext, OperationHandler, OperationType
from dirac_core.rms.handlers.outcomes import PERMANENT, settle, settle_item
from dirac_core.rms.request import Operation, Request, RequestFile

__all__ = ["ReplicateAndRegister"]


def _readable(storage: StorageElements, ses: Iterable[str]) -> bool:
    """Whether one of ``ses`` lets us read now (an unconfigured SE does not)."""
    for name in ses:
        try:
            if storage[name].allows(Access.READ):
                return True
        except DiracError:
            continue
    return False


class ReplicateAndRegister(OperationHandler):
    """Replicates files to the operation's target SEs (see the module's description)."""

    spec = OperationType(name="ReplicateAndRegister", operation_needs=("target_se",))

    def execute(self, request: Request, operation: Operation, context: HandlerContext) -> None:
        dm = context.data_manager()
        files = operation.waiting_files
        found = dm.catalog.get_replicas([f.lfn for f in files])
        for file in files:
            error = found.failed.get(file.lfn)
            if error is not None:
                if isinstance(error, NotFound):
                    file.set_status(RequestFileStatus.FAILED, f"{file.lfn} is not in the catalog: {error}")
                else:
                    settle_item(file, error)
                continue
            replicas = found.ok[file.lfn]
            missing = [se for se in operation.target_se if se not in replicas]
            if not missing:
                file.set_status(RequestFileStatus.DONE)
                continue
            if not replicas:
                file.set_status(RequestFileStatus.FAILED, f"{file.lfn} has no replica to copy from")
                continue
            if not _readable(context.storage, replicas):
                file.error = f"no replica of {file.lfn} can be read now ({', '.join(sorted(replicas))})"
                context.delay(request, context.banned_delay)
                continue
            self._replicate(dm, file, missing, [s for s in operation.source_se if s in replicas])

    @staticmethod
    def _replicate(dm: DataManager, file: RequestFile, targets: list[str], sources: list[str]) -> None:
        errors: list[DiracError] = []
        for target in targets:
            error = None
            choices: list[str | None] = list(sources) or [None]
            for source in choices:
                try:
                    dm.replicate_and_register(file.lfn, target, source_se=source)
                except DiracError as exc:
                    error = exc
                    continue
                error = None
                break
            if error is not None:
                errors.append(error)
        if not errors:
            file.set_status(RequestFileStatus.DONE)
            return
        worst = next((e for e in errors if isinstance(e, PERMANENT)), errors[0])
        settle(file, worst)
        if len(errors) > 1:
            file.error = "; ".join(str(e) for e in errors)[:2048]

"""``SetFileStatus``: report file statuses to the transformation system (a job's input files
Processed, say, when the transformation service could not be told at the job's end).

Arguments: ``transformation`` (its id or name), ``statuses`` (``{lfn: status}``) and ``force``
(default False). The operation calls ``context.services["transformations"]`` (an object with
:meth:`TransformationFiles.set_file_status`) and is Done when that returns; a refusal that no
retry changes (an unknown transformation, a bad status, a bulk answer with failed files) fails
it, any other error leaves it Waiting for the next cycle. Without a transformation system the
operation fails saying so.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from dirac_core.errors import DiracError, InvalidTransformation, InvalidTransition
from dirac_core.model.request import OperationStatus
from dirac_core.plugins.operations import HandlerContext, OperationHandler, OperationType
from dirac_core.rms.handlers.outcomes import PERMANENT
from dirac_core.rms.request import Operation, Request

__all__ = ["SetFileStatus", "TransformationFiles"]


class TransformationFiles(Protocol):
    """What ``SetFileStatus`` needs of the transformation system."""

    def set_file_status(self, transformation: int | str, statuses: Mapping[str, str], *,
                        force: bool = False) -> Any:
        """Set the status of files of a transformation (``{lfn: status}``); a bulk result
        (``failed``: the files refused) or anything else."""


class SetFileStatus(OperationHandler):
    """Sets file statuses in a transformation (see the module's description)."""

    spec = OperationType(name="SetFileStatus", with_files=False, operation_needs=("arguments",))

    def execute(self, request: Request, operation: Operation, context: HandlerContext) -> None:
        args = operation.arguments
        transformation, statuses = args.get("transformation"), args.get("statuses")
        if transformation in (None, "") or not isinstance(statuses, Mapping) or not statuses:
            self._fail(operation, "arguments must give a transformation and a non-empty statuses mapping")
            return
        service: TransformationFiles | None = context.services.get("transformations")
        if service is None:
            self._fail(operation, "there is no transformation system to set file statuses in")
            return
        try:
            answer = service.set_file_status(transformation, {str(k): str(v) for k, v in statuses.items()},
                                             force=bool(args.get("force", False)))
        except DiracError as exc:
            if isinstance(exc, (*PERMANENT, InvalidTransformation, InvalidTransition)):
                self._fail(operation, str(exc))
            else:
                operation.error = str(exc)[:2048]
            return
        refused: Mapping[str, Exception] = getattr(answer, "failed", None) or {}
        if refused:  # a bulk answer that refused files: no retry changes that
            lfn, error = next(iter(refused.items()))
            more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
            self._fail(operation, f"{lfn}: {error}{more}")
            return
        operation.status = OperationStatus.DONE
        operation.error = ""

    @staticmethod
    def _fail(operation: Operation, reason: str) -> None:
        operation.status = OperationStatus.FAILED
        operation.error = reason

"""``CallHook``: a generic operation carried out by plugins.

The operation (no files; its ``arguments`` say what to do) is handed to every implementation of
the hook ``dirac_request_operation(request, operation)``. It is Done when one implementation
returns True and none returns False; an implementation returning False or raising leaves it
Waiting (the error kept) to be called again in a later cycle, as does no implementation taking
it (every one returning None): a plugin installed later may.
"""

from __future__ import annotations

from collections.abc import Mapping

from dirac_core.model.request import OperationStatus
from dirac_core.plugins.operations import HandlerContext, OperationHandler, OperationType
from dirac_core.rms.request import Operation, Request

__all__ = ["CallHook"]


class CallHook(OperationHandler):
    """Calls the ``dirac_request_operation`` hook (see the module's description)."""

    spec = OperationType(name="CallHook", with_files=False, operation_needs=("arguments",))

    def storage_access(self, operation: Operation) -> Mapping[str, str | None]:
        return {}

    def execute(self, request: Request, operation: Operation, context: HandlerContext) -> None:
        if context.hooks is None:
            operation.error = "no hooks are registered"
            return
        try:
            answers = context.hooks.hook.dirac_request_operation(request=request, operation=operation)
        except Exception as exc:  # a plugin's failure is the operation's error, retried later
            operation.error = f"{type(exc).__name__}: {exc}"[:2048]
            return
        if False in answers:
            operation.error = operation.error or "a plugin asked to be called again"
        elif True in answers:
            operation.status = OperationStatus.DONE
            operation.error = ""
        else:
            operation.error = "no dirac_request_operation implementation took this operation"

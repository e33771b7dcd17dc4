"""The operation-handler contract: how one type of request operation is carried out.

A handler is a driver of ``dirac.operation_handlers``, named by the operation type it runs
(``ReplicateAndRegister``, ``RemoveFile``, ...). The request executor gives it the current
operation of a request and a :class:`HandlerContext`; the handler works on the operation's
waiting files and records the outcome on them:

- a file done: ``file.set_status(RequestFileStatus.DONE)``;
- a file that can never succeed: ``set_status(FAILED, reason)``;
- a file to try again later: leave it Waiting with ``file.error`` set (the executor counts the
  attempt and fails the file after ``max_attempts``);
- the whole request to wait (an SE temporarily banned): ``context.delay(request, seconds)``;
- work to do after this operation (a registration that failed after a copy): insert an
  :class:`~dirac_core.rms.request.Operation` right after the current one.

An operation without files (``CallHook``, ``SetFileStatus``) sets ``operation.status``
itself. A handler raises only for a bug or an outage of everything; the executor then keeps
the request Waiting, with the error, for the next cycle.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from dirac_core.plugins.driver import Driver

if TYPE_CHECKING:
    import pluggy

    from dirac_core.dms.manager import DataManager
    from dirac_core.dms.storage_element import StorageElements
    from dirac_core.model.clock import Clock
    from dirac_core.rms.request import Operation, Request
    from dirac_core.rms.validation import OperationType

__all__ = ["HandlerContext", "OperationHandler"]


@attrs.frozen(kw_only=True)
class HandlerContext:
    """What a handler may use: a data manager acting as the request's owner (catalog access
    checked, failover disabled: the request is the failover), the SEs, hooks, the clock, and
    ``services`` for handlers of other systems (``transformations``, ``wms``, ...)."""

    dm: DataManager
    storage: StorageElements
    clock: Clock
    hooks: pluggy.PluginManager | None = None
    services: dict[str, Any] = attrs.field(factory=dict)
    delay: Callable[[Request, timedelta], None] = lambda request, wait: None


class OperationHandler(Driver):
    """Carries out operations of one type (the class attribute ``spec`` says which, and what an
    operation of that type needs: the store validates requests against it)."""

    spec: ClassVar[OperationType]

    @abstractmethod
    def execute(self, request: Request, operation: Operation, context: HandlerContext) -> None:
        """Work on ``operation`` (the current one of ``request``); record outcomes on its files."""

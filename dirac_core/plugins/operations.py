"""The operation-handler contract: how one type of request operation is carried out.

A handler is a driver of ``dirac.operation_handlers``, named by the operation type it runs
(``ReplicateAndRegister``, ``RemoveFile``, ...); its class attribute ``spec`` (an
:class:`OperationType`) says what an operation of that type needs, and the request store
validates requests against the specs of the loaded handlers. The request executor gives a
handler the current operation of a request and a :class:`HandlerContext`; the handler works on
the operation's waiting files and records the outcome on them:

- a file done: ``file.set_status(RequestFileStatus.DONE)``;
- a file that can never succeed: ``set_status(FAILED, reason)``;
- a file to try again later: leave it Waiting with ``file.error`` set (the executor counts an
  attempt on every waiting file before each call and fails the file after ``max_attempts``);
- the whole request to wait (an SE temporarily banned): ``context.delay(request, wait)``;
- work to do after this operation (a registration that failed after a copy): the context's data
  manager records it as an operation inserted right after the current one.

An operation without files (``CallHook``, ``SetFileStatus``) sets ``operation.status`` itself
(Done, Failed, or left Waiting to be called again). A handler raises only for a bug or an
outage of everything; the executor then keeps the request Waiting, with the error, for the next
cycle.

Before calling a handler the executor checks the SEs of :meth:`OperationHandler.storage_access`:
an SE unknown to the configuration fails the files, an SE whose access is not allowed now
(Banned, Probing) delays the whole request untouched. Handlers must be stateless (one instance
serves every thread of the executor).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

import attrs

from dirac_core.errors import NotFound
from dirac_core.plugins.driver import Driver

if TYPE_CHECKING:
    import pluggy

    from dirac_core.dms.manager import DataManager
    from dirac_core.dms.storage_element import StorageElements
    from dirac_core.model.clock import Clock
    from dirac_core.rms.request import Operation, Request

__all__ = ["HandlerContext", "OperationHandler", "OperationType"]


@attrs.frozen(kw_only=True)
class OperationType:
    """An operation type: does it work on files, and which operation and file attributes it needs.

    Operation attributes: ``target_se``, ``source_se``, ``arguments``; file attributes:
    ``pfn``, ``guid``, ``checksum``, ``size``. ``single_target``: exactly one target SE.
    """

    name: str
    with_files: bool = True
    operation_needs: tuple[str, ...] = ()
    file_needs: tuple[str, ...] = ()
    single_target: bool = False


def _no_delay(request: Request, wait: timedelta) -> None:
    """The default of :attr:`HandlerContext.delay` outside an executor: nothing waits."""


@attrs.frozen(kw_only=True)
class HandlerContext:
    """What a handler may use for one request.

    ``dm``: a data manager acting as the request's owner (catalog access checked), whose
    failover inserts follow-up operations into the request itself (None when the interware has
    no file catalog: use :meth:`data_manager`); ``storage``: the SEs; ``hooks``; ``clock``;
    ``services``: engines of other systems by name (``"transformations"``, ...);
    ``delay(request, wait)``: run the request again no sooner than ``wait`` from now;
    ``banned_delay``: the wait the executor uses for a temporarily banned SE.
    """

    dm: DataManager | None
    storage: StorageElements
    clock: Clock
    hooks: pluggy.PluginManager | None = None
    services: Mapping[str, Any] = attrs.field(factory=dict)
    delay: Callable[[Request, timedelta], None] = _no_delay
    banned_delay: timedelta = timedelta(hours=1)

    def data_manager(self) -> DataManager:
        """The owner's data manager; ``NotFound`` when there is no file catalog (the executor
        then keeps the request Waiting with that error)."""
        if self.dm is None:
            raise NotFound("this interware has no file catalog (see [resources.catalogs])")
        return self.dm


class OperationHandler(Driver):
    """Carries out operations of one type (``spec`` says which, and what they need)."""

    spec: ClassVar[OperationType]

    def storage_access(self, operation: Operation) -> Mapping[str, str | None]:
        """Each SE ``operation`` names, with the access it needs there: ``"read"``, ``"write"``
        or ``"remove"`` (:class:`~dirac_core.dms.storage_element.Access` values), or None when
        the SE must only exist. Default: read on the sources, write on the targets."""
        needs: dict[str, str | None] = dict.fromkeys(operation.source_se, "read")
        needs.update(dict.fromkeys(operation.target_se, "write"))
        return needs

    @abstractmethod
    def execute(self, request: Request, operation: Operation, context: HandlerContext) -> None:
        """Work on ``operation`` (the current one of ``request``); record outcomes on its files."""

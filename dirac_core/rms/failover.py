"""Failover: what the data manager or a job wrapper could not finish, stored as a request.

:class:`RequestFailover` is the data manager's ``failover`` recorder
(:class:`~dirac_core.dms.manager.FailoverRecorder`): each call becomes one request of the
caller's identity (and job), so the request executor finishes the work later. It writes through
anything with a ``submit(requests)`` method: the :class:`~dirac_core.rms.store.RequestStore`
in-process, or the remote client's requests on a worker node.

Arguments of a call go where DIRAC keeps them: ``se`` and ``target`` are the target SEs,
``source`` the source SE; ``size``, ``checksum`` (adler32), ``guid`` and ``pfn`` describe the
file; ``remove_source=True`` on a ``ReplicateAndRegister`` adds the ``RemoveReplica`` of the
source (the failover pair: move the file off the failover SE once it is where it belongs); any
other argument is kept in the operation's arguments.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from dirac_core.errors import BulkResult
from dirac_core.model.identity import Identity
from dirac_core.rms.request import Operation, Request, RequestFile

__all__ = ["RequestFailover", "RequestSubmitter", "failover_operations", "failover_request"]


class RequestSubmitter(Protocol):
    """Where requests are stored (the store, or the remote client)."""

    def submit(self, requests: Sequence[Request]) -> BulkResult[int, int]:
        """Store ``requests``; their ids by position, or why each was refused."""


def failover_operations(operation: str, lfn: str, **arguments: Any) -> list[Operation]:
    """The operations that finish ``operation`` on ``lfn`` later (see the module docstring)."""
    targets = [arguments.pop(key) for key in ("se", "target") if arguments.get(key)]
    source_se = arguments.pop("source", None)
    remove_source = bool(arguments.pop("remove_source", False))
    checksum = arguments.pop("checksum", None)
    file = RequestFile(lfn=lfn, pfn=arguments.pop("pfn", ""), guid=arguments.pop("guid", None),
                       size=arguments.pop("size", None), checksum=checksum,
                       checksum_type="ADLER32" if checksum else None)
    operations = [Operation(type=operation, target_se=targets, source_se=[source_se] if source_se else [],
                            arguments=arguments, files=[file])]
    if remove_source and source_se and operation == "ReplicateAndRegister":
        operations.append(Operation(type="RemoveReplica", target_se=[source_se],
                                    files=[RequestFile(lfn=lfn)]))
    return operations


def failover_request(operation: str, lfn: str, *, owner: Identity, job_id: int | None = None,
                     component: str = "failover", **arguments: Any) -> Request:
    """The request that finishes ``operation`` on ``lfn`` later (see the module docstring)."""
    name = f"{component}.{job_id}.{operation}" if job_id is not None else f"{component}.{operation}"
    return Request(name=name, owner=owner.user, owner_group=owner.group, vo=owner.vo, job_id=job_id,
                   source=component, operations=failover_operations(operation, lfn, **arguments))


class RequestFailover:
    """A failover recorder that stores each record as a request owned by ``owner``."""

    def __init__(self, requests: RequestSubmitter, *, owner: Identity, job_id: int | None = None,
                 component: str = "failover") -> None:
        self.requests = requests
        self.owner = owner
        self.job_id = job_id
        self.component = component

    def __call__(self, operation: str, lfn: str, **arguments: Any) -> str:
        """Store the request for ``operation`` on ``lfn``; its id. Raises the store's refusal
        (``InvalidRequest``) or its error: a failover that cannot be recorded is not hidden."""
        request = failover_request(operation, lfn, owner=self.owner, job_id=self.job_id,
                                   component=self.component, **arguments)
        result = self.requests.submit([request])
        if 0 in result.failed:
            raise result.failed[0]
        return str(result.ok[0])

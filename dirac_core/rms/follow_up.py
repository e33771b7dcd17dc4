"""The failover of a data manager run by the request executor: the request itself.

When a handler's data manager cannot finish something (a copy made but its registration
refused), it calls its failover recorder. Outside the executor that stores a new request; inside
it, :class:`FollowUpOperations` inserts the operation into the request being executed, right
after the current operation (after any it inserted before, in order), so the executor runs it
next. Records of the same type and SEs share one operation: a hundred registrations that failed
in one bulk call become one ``RegisterReplica`` of a hundred files.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from dirac_core.rms.failover import failover_operations
from dirac_core.rms.request import Operation, Request

__all__ = ["FollowUpOperations"]


class FollowUpOperations:
    """A failover recorder (:class:`~dirac_core.dms.manager.FailoverRecorder`) that adds
    operations to ``request`` after its current one."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self._added: dict[tuple[str, ...], Operation] = {}
        self._lock = threading.Lock()

    def __call__(self, operation: str, lfn: str, **arguments: Any) -> str:
        """Insert ``operation`` on ``lfn`` after the current operation; ``"<request id>:<type>"``."""
        new = failover_operations(operation, lfn, **arguments)
        with self._lock:
            for op in new:
                key = (op.type, ",".join(op.source_se), ",".join(op.target_se),
                       json.dumps(op.arguments, sort_keys=True, default=str))
                same = self._added.get(key)
                if same is None:
                    self._insert(op)
                    self._added[key] = op
                elif all(f.lfn != op.files[0].lfn for f in same.files):
                    same.files.extend(op.files)
        return f"{self.request.request_id}:{operation}"

    def _insert(self, op: Operation) -> None:
        operations = self.request.operations
        current = self.request.current
        after = next((i for i, o in enumerate(operations) if o is current), len(operations) - 1)
        mine = [id(o) for o in self._added.values()]
        while after + 1 < len(operations) and id(operations[after + 1]) in mine:
            after += 1
        operations.insert(after + 1, op)

"""The built-in operation handlers (drivers of ``dirac.operation_handlers``), one module per family.

:data:`BUILTIN_HANDLERS` lists their classes; the request store's default operation types
(:data:`~dirac_core.rms.validation.BUILTIN_TYPES`) are their specs.
"""

from __future__ import annotations

from dirac_core.plugins.operations import OperationHandler
from dirac_core.rms.handlers.hooks import CallHook
from dirac_core.rms.handlers.registration import RegisterFile, RegisterReplica
from dirac_core.rms.handlers.removal import PhysicalRemoval, RemoveFile, RemoveReplica
from dirac_core.rms.handlers.replication import ReplicateAndRegister
from dirac_core.rms.handlers.transformation import SetFileStatus
from dirac_core.rms.handlers.upload import PutAndRegister

__all__ = ["BUILTIN_HANDLERS", "CallHook", "PhysicalRemoval", "PutAndRegister", "RegisterFile",
           "RegisterReplica", "RemoveFile", "RemoveReplica", "ReplicateAndRegister", "SetFileStatus"]

#: every built-in handler class, in DIRAC's order of the types
BUILTIN_HANDLERS: tuple[type[OperationHandler], ...] = (
    ReplicateAndRegister, PutAndRegister, RegisterFile, RegisterReplica, RemoveFile, RemoveReplica,
    PhysicalRemoval, SetFileStatus, CallHook)

"""What each operation type needs, and the check a request passes before it is stored.

Each operation handler (a ``dirac.operation_handlers`` driver) describes its type with an
:class:`OperationType` (its ``spec``); the store is given the specs of the loaded handlers.
:data:`BUILTIN_TYPES` are the built-in handlers' specs (DIRAC's data operations,
``SetFileStatus`` and ``CallHook``). The checks run
in DIRAC's order: a name, an owner and group, at least one operation, each
of a known type, files present exactly when the type works on files, the
attributes the type needs, a checksum and its type given together.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dirac_core.errors import InvalidRequest
from dirac_core.plugins.operations import OperationType
from dirac_core.rms.handlers import BUILTIN_HANDLERS
from dirac_core.rms.request import MAX_FILES, Operation, Request

__all__ = ["BUILTIN_TYPES", "OperationType", "validate"]


#: the specs of the built-in handlers (:mod:`dirac_core.rms.handlers`): the types a store accepts
#: when it is given no others
BUILTIN_TYPES: Mapping[str, OperationType] = {handler.spec.name: handler.spec for handler in BUILTIN_HANDLERS}


def validate(request: Request, types: Mapping[str, OperationType] = BUILTIN_TYPES) -> None:
    """Raise :class:`InvalidRequest` saying what is wrong with ``request``, or return."""
    if not request.name:
        raise InvalidRequest("a request needs a name")
    if not request.owner or not request.owner_group:
        raise InvalidRequest(f"request {request.name!r}: no owner or owner group")
    if not request.operations:
        raise InvalidRequest(f"request {request.name!r} has no operations")
    for index, op in enumerate(request.operations):
        where = f"request {request.name!r}, operation {index} ({op.type})"
        kind = types.get(op.type)
        if kind is None:
            raise InvalidRequest(f"{where}: unknown operation type; known: {', '.join(sorted(types))}",
                                 operation=index, type=op.type)
        _check_operation(op, kind, where)


def _check_operation(op: Operation, kind: OperationType, where: str) -> None:
    if kind.with_files and not op.files:
        raise InvalidRequest(f"{where}: this type works on files and has none")
    if not kind.with_files and op.files:
        raise InvalidRequest(f"{where}: this type takes no files")
    if len(op.files) > MAX_FILES:
        raise InvalidRequest(f"{where}: {len(op.files)} files, at most {MAX_FILES} per operation")
    for name in _missing(op, kind.operation_needs):
        raise InvalidRequest(f"{where}: {name} is required")
    if kind.single_target and len(op.target_se) != 1:
        raise InvalidRequest(f"{where}: exactly one target SE is required, got {len(op.target_se)}")
    seen: set[str] = set()
    for f in op.files:
        if f.lfn in seen:
            raise InvalidRequest(f"{where}: {f.lfn} appears twice")
        seen.add(f.lfn)
        for name in _missing(f, kind.file_needs):
            raise InvalidRequest(f"{where}, file {f.lfn}: {name} is required")
        if (f.checksum is None) != (f.checksum_type is None):
            raise InvalidRequest(f"{where}, file {f.lfn}: a checksum and its type go together")


def _missing(obj: object, names: Iterable[str]) -> list[str]:
    return [name for name in names if getattr(obj, name) in (None, "", (), {})]

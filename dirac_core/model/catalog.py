"""Statuses of catalog entries: files and replicas.

DIRAC's file catalog keeps one status per file and per replica, from the
same list (its ``ValidFileStatus`` / ``ValidReplicaStatus``); only
:data:`VISIBLE_STATUSES` are shown by default queries. Any valid status may
follow any other (DIRAC has no transition rules for them), so there is no
transition table: validity is the only check, done by :meth:`FileStatus.parse`.
"""

from __future__ import annotations

from enum import StrEnum

from dirac_core.errors import CatalogError

__all__ = ["VISIBLE_STATUSES", "FileStatus", "ReplicaType"]


class FileStatus(StrEnum):
    """The status of a file or of a replica."""

    APRIORI_GOOD = "AprioriGood"
    TRASH = "Trash"
    REMOVING = "Removing"
    PROBING = "Probing"

    @classmethod
    def parse(cls, value: object) -> FileStatus:
        """The member for ``value``; ``CatalogError`` naming the valid ones otherwise."""
        try:
            return cls(str(value)) if isinstance(value, str) else cls(value)  # type: ignore[arg-type]
        except ValueError:
            valid = ", ".join(m.value for m in cls)
            raise CatalogError(f"invalid status {value!r} (valid: {valid})", status=value) from None


#: What default queries show (DIRAC's ``VisibleFileStatus`` and ``VisibleReplicaStatus``).
VISIBLE_STATUSES: frozenset[FileStatus] = frozenset({FileStatus.APRIORI_GOOD})


class ReplicaType(StrEnum):
    """``Master`` for the replica registered with the file, ``Replica`` for later ones."""

    MASTER = "Master"
    REPLICA = "Replica"

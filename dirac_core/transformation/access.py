"""Who may see and change transformations and productions through a server.

- **reading** (a record, its files, tasks, statistics, a production's progress, the listings):
  any identity of the VO of the transformation's or production's author. To anyone else it is
  answered as missing, the same as one that does not exist, so that names and ids of another VO
  leak nothing;
- **creating and changing** (create, start, stop, flush, complete, clean, add files, set file
  statuses): an identity of that VO whose group holds ``ProductionManagement`` or
  ``ServiceAdministrator`` (:data:`MANAGERS`).

The engines keep their own checks besides these: :meth:`TransformationSystem.check
<dirac_core.transformation.TransformationSystem.check>` refuses to create a transformation (and
so a production, or the transformations a production makes when it first starts) for an author
without ``ProductionManagement``, and :class:`~dirac_core.transformation.productions.ProductionSystem`
lets only a production's author or a production manager change it.
"""

from __future__ import annotations

from typing import Protocol

from dirac_core.config.registry import Property
from dirac_core.model.identity import Identity

__all__ = ["MANAGERS", "Authored", "may_change", "may_create", "may_see"]

#: the properties that create and change transformations and productions (of their VO)
MANAGERS = (Property.PRODUCTION_MANAGEMENT, Property.SERVICE_ADMINISTRATOR)


class Authored(Protocol):
    """A transformation or a production: the VO of its author."""

    @property
    def vo(self) -> str:
        """The author's VO."""


def may_see(identity: Identity, item: Authored) -> bool:
    """Whether ``identity`` may read ``item`` (else it is answered as missing)."""
    return item.vo == identity.vo


def may_create(identity: Identity) -> bool:
    """Whether ``identity`` may create transformations and productions (in its own VO)."""
    return any(identity.has(p) for p in MANAGERS)


def may_change(identity: Identity, item: Authored) -> bool:
    """Whether ``identity`` may change ``item``: its status, its files."""
    return may_see(identity, item) and may_create(identity)

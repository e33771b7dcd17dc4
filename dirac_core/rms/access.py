"""Who may see and cancel a request: its owner, and the administrators of its VO.

``ServiceAdministrator`` and ``JobAdministrator`` see and cancel every request of their VO;
anyone else only their own. The server answers a request one may not see as missing, the same
as one that does not exist; the CLI on an embedded interware applies the same rule.
"""

from __future__ import annotations

from typing import Protocol

from dirac_core.config.registry import Property
from dirac_core.model.identity import Identity

__all__ = ["ADMINISTRATORS", "Owned", "may_see", "search_scope"]

#: the properties that see every request of their VO
ADMINISTRATORS = (Property.SERVICE_ADMINISTRATOR, Property.JOB_ADMINISTRATOR)


class Owned(Protocol):
    """A request or its summary: who owns it."""

    owner: str
    vo: str


def may_see(identity: Identity, request: Owned) -> bool:
    """Whether ``identity`` may see (and cancel) ``request``."""
    if any(identity.has(p) for p in ADMINISTRATORS):
        return request.vo == identity.vo
    return (request.owner, request.vo) == (identity.user, identity.vo)


def search_scope(identity: Identity) -> tuple[str | None, str]:
    """``(owner, vo)`` filters of a listing for ``identity`` (owner None: the whole VO)."""
    if any(identity.has(p) for p in ADMINISTRATORS):
        return None, identity.vo
    return identity.user, identity.vo

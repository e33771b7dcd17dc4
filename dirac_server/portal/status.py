"""The resource status shown on the site summary: the interware's resource status system.

Anyone reads resource statuses (``docs/authorization.md``); a status kept for one VO is shown
to that VO only.
"""

from __future__ import annotations

from typing import Any

from dirac_core.interware import Interware
from dirac_core.model.identity import Identity
from dirac_core.model.resource_status import ALL, ElementType

__all__ = ["resource_status", "site_statuses"]


def resource_status(iw: Interware, identity: Identity) -> list[dict[str, Any]] | None:
    """The stored status of every element (site, CE, queue, SE) for the viewer's VO, in the
    store's order; None when the interware has no resource status system (the page says so)."""
    system = getattr(iw, "status", None)
    if system is None:
        return None
    return [{"name": r.key.name, "element_type": str(r.key.element_type),
             "status_type": str(r.key.status_type), "vo": r.key.vo, "status": str(r.status),
             "reason": r.reason, "since": r.date_effective, "token_owner": r.token_owner}
            for r in system.statuses() if r.key.vo in (ALL, identity.vo)]


def site_statuses(rows: list[dict[str, Any]] | None) -> dict[str, str]:
    """Each site's own status (its ``all`` status; a VO's own one wins over the general one)."""
    out: dict[str, str] = {}
    for row in rows or ():
        if row["element_type"] == ElementType.SITE and (row["name"] not in out or row["vo"] != ALL):
            out[row["name"]] = row["status"]
    return out

"""What a pilot offers: its resource description, normalised for matching.

Pilots send DIRAC's keys (``Site``, ``GridCE``, ``CPUTime``, ``Tag``,
``RequiredTag``, ``NumberOfProcessors``, ``MaxRAM`` in MB, ``WholeNode``,
``Platform``, ``OwnerGroup``, ``JobType``, ``PilotReference``, ...);
:meth:`ResourceDescription.from_mapping` reads them (snake-case names work
too) and expands tags as DIRAC's matcher does: RAM gives ``2GB`` .. ``nGB``,
processors give ``2Processors`` .. ``nProcessors`` and ``MultiProcessor``,
whole node gives ``WholeNode``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from dirac_core.errors import DiracError

#: The largest MaxRAM believed (16 TiB): each GB becomes a tag, so it is bounded.
_MAX_RAM_MB = 16 * 1024 * 1024

__all__ = ["ANY", "ResourceDescription"]

#: The value that disables a constraint.
ANY = "ANY"

_KEYS = {
    "Site": "site", "GridCE": "grid_ce", "CEQueue": "queue", "Platform": "platforms",
    "CPUTime": "cpu_time", "Tag": "tags", "RequiredTag": "required_tags",
    "NumberOfProcessors": "processors", "MaxRAM": "max_ram_mb", "WholeNode": "whole_node",
    "OwnerGroup": "owner_groups", "Owner": "owner", "JobType": "job_types",
    "PilotReference": "pilot_stamp", "PilotStamp": "pilot_stamp",
    "VirtualOrganization": "vo", "BannedSites": "banned_sites",
}


def _words(value: Any) -> frozenset[str]:
    if value is None or value == "":
        return frozenset()
    if isinstance(value, str):
        text = value.strip().strip("[]")
        return frozenset(p.strip().strip("'\"") for p in text.split(",") if p.strip())
    return frozenset(str(v).strip() for v in value if str(v).strip())


def _is_any(values: frozenset[str]) -> bool:
    return any(v.strip(" .,;:-_").upper() == ANY for v in values)


@attrs.frozen(kw_only=True)
class ResourceDescription:
    """A pilot's resources. Empty sets mean "not given"; ``tags`` None means no Tag was sent.

    ``cpu_time`` is the work the pilot can still do (HS06 seconds).
    """

    site: str
    cpu_time: int
    grid_ce: str | None = None
    queue: str | None = None
    platforms: frozenset[str] = frozenset()
    tags: frozenset[str] | None = None
    required_tags: frozenset[str] = frozenset()
    processors: int = 1
    max_ram_mb: int | None = None
    whole_node: bool = False
    owner: str | None = None
    owner_groups: frozenset[str] = frozenset()
    job_types: frozenset[str] = frozenset()
    banned_sites: frozenset[str] = frozenset()
    vo: str | None = None
    pilot_stamp: str | None = None

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ResourceDescription:
        """Read DIRAC's (or snake-case) keys; raise ``DiracError`` naming a bad value."""
        values: dict[str, Any] = {}
        for key, raw in data.items():
            name = _KEYS.get(key, key)
            if name not in _FIELDS:
                continue  # pilots send many informational keys (DIRACVersion, ...)
            values[name] = raw
        if not values.get("site"):
            raise DiracError("a resource description needs a Site", field="Site")
        try:
            cpu = int(values.get("cpu_time", 0))
            procs = int(values.get("processors", 1) or 1)
            ram = values.get("max_ram_mb")
            ram_mb = int(ram) if ram not in (None, "") else None
        except (TypeError, ValueError) as exc:
            raise DiracError(f"invalid number in resource description: {exc}") from None
        if ram_mb is not None and not 0 <= ram_mb <= _MAX_RAM_MB:
            raise DiracError(f"MaxRAM must be between 0 and {_MAX_RAM_MB} MB, got {ram_mb}",
                             field="MaxRAM")
        tags = values.get("tags")
        return cls(
            site=str(values["site"]), cpu_time=cpu,
            grid_ce=str(values["grid_ce"]) if values.get("grid_ce") else None,
            queue=str(values["queue"]) if values.get("queue") else None,
            platforms=_words(values.get("platforms")),
            tags=None if tags is None and "whole_node" not in values else _words(tags),
            required_tags=_words(values.get("required_tags")), processors=procs,
            max_ram_mb=ram_mb, whole_node=str(values.get("whole_node", "")).lower()
            in ("true", "yes", "1", "y"),
            owner=values.get("owner") or None, owner_groups=_words(values.get("owner_groups")),
            job_types=_words(values.get("job_types")),
            banned_sites=_words(values.get("banned_sites")),
            vo=values.get("vo") or None, pilot_stamp=values.get("pilot_stamp") or None)

    def all_tags(self) -> frozenset[str] | None:
        """Tags offered, expanded from RAM, processors and whole node; None when no tag was sent.

        DIRAC honours ``RequiredTag`` only when ``Tag`` is present; so do we.
        """
        if self.tags is None and self.processors <= 1 and not self.max_ram_mb:
            return None
        tags = set(self.tags or ())
        if self.max_ram_mb:
            tags |= {f"{n}GB" for n in range(2, self.max_ram_mb // 1000 + 1)}
        if 1 < self.processors <= 1024:
            tags |= {f"{n}Processors" for n in range(2, self.processors + 1)}
            tags.add("MultiProcessor")
        if self.whole_node:
            tags.add("WholeNode")
        return frozenset(tags)

    def key(self) -> tuple[Any, ...]:
        """A hashable summary of everything that decides which queues match."""
        return (self.site, self.cpu_time, self.grid_ce, self.platforms, self.all_tags(),
                self.required_tags, self.owner, self.owner_groups, self.job_types,
                self.banned_sites)


#: the attribute names of :class:`ResourceDescription` (``attrs.fields_dict`` builds a dict per call)
_FIELDS = frozenset(attrs.fields_dict(ResourceDescription))

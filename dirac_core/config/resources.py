"""Resources: sites with their computing elements, storage elements, catalogs, the site mask.

It mirrors DIRAC's ``/Resources`` section. Sites are keyed grid -> site name
(``sites["LCG"]["LCG.CERN.ch"]``, like ``/Resources/Sites/LCG/LCG.CERN.ch``),
and a site's name starts with its grid. Computing elements, storage protocols
and catalogs are plugin sections (see :mod:`dirac_core.config.sections`).
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import StrEnum

import attrs
from attrs import validators as v

from dirac_core.config._validators import NAME, OPT_INT, STR_SET, OptionValue
from dirac_core.config.sections import CatalogSection, CESection, ProtocolSection
from dirac_core.errors import ConfigError

__all__ = ["AccessStatus", "Medium", "Resources", "Site", "StorageElement"]


class Medium(StrEnum):
    """What a storage element keeps its files on."""

    DISK = "disk"
    TAPE = "tape"


class AccessStatus(StrEnum):
    """The status of one kind of access to a storage element (DIRAC's ReadAccess, ...)."""

    ACTIVE = "Active"
    DEGRADED = "Degraded"
    PROBING = "Probing"
    BANNED = "Banned"


@attrs.frozen(kw_only=True)
class Site:
    """A site: its computing elements and the names of its local storage elements.

    ``coordinates`` is (longitude, latitude) when known; ``tier`` the site's place in the
    experiment's model (0: the host laboratory, 1: large centres, 2: ...; DIRAC's
    ``MoUTierLevel``), for choosing sites by tier. Raises
    :class:`ConfigError` when two CEs share a name.
    """

    name: str = attrs.field(validator=v.and_(NAME, v.matches_re(r"[^.]+\..+")))
    ces: tuple[CESection, ...] = attrs.field(default=(), validator=v.instance_of(tuple))
    ses: tuple[str, ...] = attrs.field(
        default=(), validator=v.deep_iterable(v.instance_of(str), v.instance_of(tuple)))
    coordinates: tuple[float, float] | None = None
    contact_email: str | None = attrs.field(default=None, validator=v.optional(v.instance_of(str)))
    description: str = attrs.field(default="", validator=v.instance_of(str))
    tier: int | None = attrs.field(default=None, validator=OPT_INT)

    def __attrs_post_init__(self) -> None:
        seen: set[str] = set()
        problems = []
        for i, ce in enumerate(self.ces):
            if ce.name in seen:
                problems.append((f"ces[{i}].name", f"duplicate CE name {ce.name!r}"))
            seen.add(ce.name)
        if problems:
            raise ConfigError(problems)

    @property
    def grid(self) -> str:
        """The grid the site belongs to: the first dot-separated part of its name."""
        return self.name.split(".", 1)[0]

    def ce(self, name: str) -> CESection:
        """The CE called ``name``; raises ``KeyError`` when there is none."""
        for ce in self.ces:
            if ce.name == name:
                return ce
        raise KeyError(name)


@attrs.frozen(kw_only=True)
class StorageElement:
    """A storage element: a backend reachable through one or more protocol sections.

    ``backend_type`` is informative (``EOS``, ``dCache``, ``StoRM``, ``posix``, ...);
    the ``*_access`` fields are the default statuses before any resource
    status system changes them.
    """

    name: str = attrs.field(validator=NAME)
    backend_type: str = attrs.field(default="", validator=v.instance_of(str))
    medium: Medium = attrs.field(default=Medium.DISK, converter=Medium,
                                 validator=v.instance_of(Medium))
    read_access: AccessStatus = attrs.field(default=AccessStatus.ACTIVE, converter=AccessStatus,
                                       validator=v.instance_of(AccessStatus))
    write_access: AccessStatus = attrs.field(default=AccessStatus.ACTIVE, converter=AccessStatus,
                                       validator=v.instance_of(AccessStatus))
    check_access: AccessStatus = attrs.field(default=AccessStatus.ACTIVE, converter=AccessStatus,
                                       validator=v.instance_of(AccessStatus))
    remove_access: AccessStatus = attrs.field(default=AccessStatus.ACTIVE, converter=AccessStatus,
                                       validator=v.instance_of(AccessStatus))
    protocols: tuple[ProtocolSection, ...] = attrs.field(default=(),
                                                         validator=v.instance_of(tuple))
    tags: frozenset[str] = attrs.field(default=frozenset(), validator=STR_SET)
    options: dict[str, OptionValue] = attrs.field(factory=dict, validator=v.instance_of(dict))


@attrs.frozen(kw_only=True)
class Resources:
    """Every site (grid -> name -> :class:`Site`), storage element and catalog.

    ``site_mask`` holds the names of the sites allowed to run jobs. Raises
    :class:`ConfigError` (paths relative to the resources) for a site not
    under its grid, a site listing an unknown SE, a masked unknown site, or
    more than one master catalog.
    """

    sites: dict[str, dict[str, Site]] = attrs.Factory(dict)
    storage_elements: dict[str, StorageElement] = attrs.Factory(dict)
    catalogs: dict[str, CatalogSection] = attrs.Factory(dict)
    site_mask: frozenset[str] = attrs.field(default=frozenset(), validator=STR_SET)
    #: DIRAC platform -> the OS platforms it can run (DIRAC's ``OSCompatibility``)
    os_compatibility: dict[str, frozenset[str]] = attrs.Factory(dict)

    def __attrs_post_init__(self) -> None:
        problems = [*self._site_problems(), *self._name_problems()]
        names = {site.name for site in self.all_sites()}
        for name in sorted(self.site_mask - names):
            problems.append(("site_mask", f"unknown site {name!r}"))
        masters = sorted(name for name, cat in self.catalogs.items() if cat.master)
        if len(masters) > 1:
            problems.append(("catalogs", f"more than one master catalog: {', '.join(masters)}"))
        if problems:
            raise ConfigError(problems)

    def _site_problems(self) -> list[tuple[str, str]]:
        problems = []
        for grid, sites in self.sites.items():
            for key, site in sites.items():
                path = f"sites.{grid}.{key}"
                if site.name != key:
                    problems.append((f"{path}.name", f"{site.name!r} differs from its key"))
                if site.grid != grid:
                    problems.append((path, f"a site of grid {grid!r} must be named "
                                           f"'{grid}.<place>.<country>'"))
                for i, se in enumerate(site.ses):
                    if se not in self.storage_elements:
                        problems.append((f"{path}.ses[{i}]", f"unknown storage element {se!r}"))
        return problems

    def _name_problems(self) -> list[tuple[str, str]]:
        tables: list[tuple[str, dict[str, StorageElement] | dict[str, CatalogSection]]] = [
            ("storage_elements", self.storage_elements), ("catalogs", self.catalogs)]
        return [(f"{kind}.{key}.name", f"{item.name!r} differs from its key")
                for kind, table in tables for key, item in table.items() if item.name != key]

    def all_sites(self) -> Iterator[Site]:
        """Every site of every grid."""
        for sites in self.sites.values():
            yield from sites.values()

    def sites_of_tier(self, *tiers: int) -> list[str]:
        """The names of the sites of these tiers, sorted."""
        return sorted(site.name for site in self.all_sites() if site.tier in tiers)

    def site(self, name: str) -> Site:
        """The site called ``name`` (its grid is read from the name); raises ``KeyError``."""
        return self.sites[name.split(".", 1)[0]][name]

    def master_catalog(self) -> CatalogSection | None:
        """The catalog marked ``master``, or None."""
        return next((c for c in self.catalogs.values() if c.master), None)

    def compatible_platforms(self, platform: str) -> frozenset[str] | None:
        """The DIRAC platforms that can run a job asking for ``platform``.

        None when ``platform`` is not a key of ``os_compatibility`` (an unknown
        platform); without any ``os_compatibility`` a platform only matches itself.
        """
        if not self.os_compatibility:
            return frozenset({platform})
        if platform not in self.os_compatibility:
            return None
        return frozenset({platform} | {p for p, oses in self.os_compatibility.items()
                                       if platform in oses})

    def site_of_se(self) -> dict[str, frozenset[str]]:
        """Storage element -> the sites that list it as local."""
        out: dict[str, set[str]] = {}
        for site in self.all_sites():
            for se in site.ses:
                out.setdefault(se, set()).add(site.name)
        return {se: frozenset(sites) for se, sites in out.items()}

    def is_allowed(self, site: str) -> bool:
        """True when ``site`` is in the site mask."""
        return site in self.site_mask

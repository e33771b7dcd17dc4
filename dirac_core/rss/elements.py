"""The elements the resource status system follows, read from the configuration.

DIRAC's Synchronizer copies the CS into the status tables; here the configuration *is* the list:
every site, every CE and each of its queues (named ``<ce>/<queue>``), every SE. A status row of an
element that left the configuration stays in the database (its history with it) but is no longer
evaluated.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from dirac_core.config.model import Config
from dirac_core.errors import DiracError, NotFound
from dirac_core.model.resource_status import Element, ElementType

__all__ = ["EVALUATION_ORDER", "ElementCatalog", "queue_name"]

log = logging.getLogger(__name__)

#: resources before the sites made of them, so that propagation sees this pass's statuses
EVALUATION_ORDER = (ElementType.QUEUE, ElementType.COMPUTING_ELEMENT, ElementType.STORAGE_ELEMENT,
                    ElementType.SITE)


def queue_name(ce: str, queue: str) -> str:
    """The element name of a CE's queue."""
    return f"{ce}/{queue}"


class ElementCatalog:
    """Every configured element by type and name, and the members of each site."""

    def __init__(self, config: Config) -> None:
        self._by_type: dict[ElementType, dict[str, Element]] = {t: {} for t in ElementType}
        self._members: dict[str, list[Element]] = {}
        site_of_se = config.resources.site_of_se()
        for site in sorted(config.resources.all_sites(), key=lambda s: s.name):
            self._add(Element(element_type=ElementType.SITE, name=site.name))
            members = self._members.setdefault(site.name, [])
            for ce in site.ces:
                element = Element(element_type=ElementType.COMPUTING_ELEMENT, name=ce.name, site=site.name)
                if self._add(element):
                    members.append(element)
                for queue in ce.queues.values():
                    self._add(Element(element_type=ElementType.QUEUE, name=queue_name(ce.name, queue.name),
                                      site=site.name, ce=ce.name))
        for name in sorted(config.resources.storage_elements):
            sites = sorted(site_of_se.get(name, ()))
            element = Element(element_type=ElementType.STORAGE_ELEMENT, name=name,
                              site=sites[0] if sites else None)
            self._add(element)
            for site_name in sites:
                self._members[site_name].append(element)

    def _add(self, element: Element) -> bool:
        table = self._by_type[element.element_type]
        if element.name in table:  # a CE listed by two sites: the first keeps it
            log.warning("%s %s is configured twice; the first one is followed", element.element_type,
                        element.name)
            return False
        table[element.name] = element
        return True

    def __iter__(self) -> Iterator[Element]:
        """Every element, resources before sites (:data:`EVALUATION_ORDER`)."""
        for element_type in EVALUATION_ORDER:
            yield from self._by_type[element_type].values()

    def members(self, site: str) -> list[Element]:
        """The CEs and SEs of ``site`` (none for an unknown site)."""
        return list(self._members.get(site, ()))

    def get(self, name: str, element_type: ElementType | str | None = None) -> Element:
        """The element called ``name`` (of ``element_type`` when given).

        Raises ``NotFound`` for an unknown name, ``DiracError`` when the name is used by elements
        of several types and no type is given.
        """
        types = [ElementType(element_type)] if element_type is not None else list(ElementType)
        found = [self._by_type[t][name] for t in types if name in self._by_type[t]]
        if not found:
            what = f"{element_type} " if element_type is not None else "element "
            raise NotFound(f"no {what}{name!r} in the configuration", element=name)
        if len(found) > 1:
            kinds = ", ".join(e.element_type for e in found)
            raise DiracError(f"{name!r} names several elements ({kinds}): give the element type",
                             element=name)
        return found[0]

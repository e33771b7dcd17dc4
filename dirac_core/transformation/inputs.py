"""Input data: the files a transformation's input query selects, attached as they appear.

Three ways in, all through the catalog's metadata and :mod:`dirac_core.dms.metaquery`:

- at creation, the files matching the query already (:func:`matching_files`);
- pushed: :class:`InputDataHook` implements ``dirac_file_registered``. The data manager calls it
  after registering files; the files' metadata (what the hook gives, the catalog's own and
  inherited metadata, their replicas' SEs) is matched in memory against the input query of every
  transformation in New, Active, Stopped, Completing or Flush (DIRAC's TSCatalog), and matches are
  attached. A failure here is logged, never raised into the data manager: the file is registered;
- pulled: the input-query scan (:meth:`TransformationSystem.scan_input_queries`) runs each Active
  transformation's query through ``find_files`` and attaches what is new (DIRAC's InputDataAgent).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from dirac_core.dms.metaquery import QueryError, matches, normalize_query
from dirac_core.errors import CatalogError, DiracError, InvalidTransformation
from dirac_core.model.lfn import normalize_lfns
from dirac_core.plugins.catalog import Catalog
from dirac_core.plugins.hookspecs import hookimpl

if TYPE_CHECKING:
    from dirac_core.transformation.system import TransformationSystem

__all__ = ["InputDataHook", "check_query", "file_metadata", "matching_files", "query_fields",
           "select_matches"]

log = logging.getLogger(__name__)


def query_fields(catalog: Catalog | None) -> tuple[dict[str, str], set[str]]:
    """The catalog's declared metadata fields (name -> type) and those that belong to files;
    none when the catalog has no metadata."""
    lister = getattr(catalog, "metadata_fields", None)
    if lister is None:
        return {}, set()
    try:
        declared = lister()
    except CatalogError:  # a catalog set without a metadata catalog
        return {}, set()
    return {f.name: f.type for f in declared}, {f.name for f in declared if f.for_files}


def check_query(catalog: Catalog | None, query: Mapping[str, Any]) -> None:
    """Raise :class:`InvalidTransformation` when ``query`` is not a query this catalog can run."""
    if catalog is None or getattr(catalog, "find_files", None) is None:
        raise InvalidTransformation("an input query needs a file catalog with metadata",
                                    parameter="input_query")
    if not query:
        raise InvalidTransformation("the input query is empty: it would select nothing",
                                    parameter="input_query")
    fields, file_fields = query_fields(catalog)
    try:
        normalize_query(query, fields, file_fields=file_fields)
    except QueryError as exc:
        raise InvalidTransformation(f"input query: {exc}", parameter="input_query") from exc


def matching_files(catalog: Catalog, query: Mapping[str, Any]) -> list[str]:
    """The LFNs the catalog finds for ``query`` (under ``/``)."""
    finder = getattr(catalog, "find_files", None)
    if finder is None:
        raise CatalogError("the file catalog cannot search metadata")
    return list(finder(query, "/"))


def file_metadata(catalog: Catalog | None, lfns: Sequence[str],
                  given: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """What is known of each file's metadata: the catalog's (own and inherited), its replicas'
    SEs, its name, and what the caller gave (which wins)."""
    out: dict[str, dict[str, Any]] = {lfn: {"Name": lfn.rsplit("/", 1)[-1]} for lfn in lfns}
    reader = getattr(catalog, "get_metadata", None)
    if reader is not None:
        for lfn, values in reader(list(lfns)).ok.items():
            out[lfn].update(values)
    if catalog is not None:
        for lfn, ses in catalog.get_replicas(list(lfns)).ok.items():
            out[lfn]["SE"] = frozenset(ses)
    for lfn in lfns:
        out[lfn].update(given.get(lfn, {}))
    return out


class InputDataHook:
    """The ``dirac_file_registered`` implementation that feeds transformations (push mode)."""

    def __init__(self, system: TransformationSystem) -> None:
        self.system = system

    @hookimpl
    def dirac_file_registered(self, lfns: Sequence[str], metadata: Mapping[str, Mapping[str, Any]]) -> None:
        """Attach the registered files to every transformation whose input query they match."""
        try:
            canonical, _ = normalize_lfns(lfns)
            given = {canonical[lfn]: metadata.get(lfn, {}) for lfn in canonical}
            self.system.attach_registered(list(given), given)
        except DiracError as exc:  # the file is registered: never undo that
            log.warning("registered files not attached to transformations: %s", exc)
        except Exception:
            log.exception("registered files not attached to transformations")


def select_matches(query: Mapping[str, Any], metadata: Mapping[str, Mapping[str, Any]],
                   fields: Mapping[str, str], file_fields: set[str]) -> list[str]:
    """The LFNs whose metadata satisfies ``query``; a query the fields cannot read selects none, a
    file whose value cannot be compared is not selected."""
    try:
        terms = normalize_query(query, fields, file_fields=file_fields)
    except QueryError as exc:
        log.warning("input query %r cannot be evaluated: %s", dict(query), exc)
        return []
    selected = []
    for lfn, values in metadata.items():
        try:
            if matches(terms, values, fields):
                selected.append(lfn)
        except QueryError as exc:
            log.info("%s not matched against %r: %s", lfn, dict(query), exc)
    return selected

"""The metadata contract: searchable metadata on directories and files, and datasets.

Declared fields have a type (``int``, ``float``, ``string``, ``date``) and
belong to directories or to files, never both; directory metadata is
inherited by everything below. Queries are mappings ``{field: condition}``
(see :mod:`dirac_core.dms.metaquery` for the forms and the text language),
all terms ANDed; they select files under ``path``. A dataset is a named,
stored query whose file list can be frozen. Bulk calls fail per item.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from attrs import frozen

from dirac_core.errors import BulkResult

__all__ = ["DatasetInfo", "MetadataCatalog", "MetadataField"]


@frozen(kw_only=True)
class MetadataField:
    """A declared (searchable) field."""

    name: str
    type: str  # int, float, string, date
    for_files: bool


@frozen(kw_only=True)
class DatasetInfo:
    """A dataset's query, state and the files it holds now (or held when frozen)."""

    name: str
    query: Mapping[str, Any]
    path: str
    frozen: bool
    files: int
    size: int
    checksum: str  # of the sorted LFN list: it changes when the content does


class MetadataCatalog(ABC):
    """Metadata, queries and datasets (implemented by catalogs that can search)."""

    @abstractmethod
    def add_metadata_field(self, name: str, type: str, *, for_files: bool) -> MetadataField:
        """Declare a field; the same declaration again succeeds; a clash raises ``CatalogError``."""

    @abstractmethod
    def metadata_fields(self) -> list[MetadataField]:
        """Every declared field."""

    @abstractmethod
    def set_metadata(self, values: Mapping[str, Mapping[str, Any]]) -> BulkResult[str, None]:
        """Set ``{path: {field: value}}`` on directories or files (typed by the declared fields)."""

    @abstractmethod
    def remove_metadata(self, keys: Mapping[str, Sequence[str]]) -> BulkResult[str, None]:
        """Remove ``{path: [field, ...]}``; removing an absent value succeeds."""

    @abstractmethod
    def get_metadata(self, paths: Sequence[str]) -> BulkResult[str, dict[str, Any]]:
        """Each path's metadata: a directory's own and inherited, a file's own and its directory's."""

    @abstractmethod
    def find_files(self, query: Mapping[str, Any], path: str = "/") -> list[str]:
        """The LFNs under ``path`` that satisfy every term of ``query``, sorted."""

    @abstractmethod
    def add_dataset(self, name: str, query: Mapping[str, Any], path: str = "/") -> DatasetInfo:
        """Store a named query (``name`` is a full path); ``AlreadyExists`` if the name is taken."""

    @abstractmethod
    def dataset(self, name: str) -> DatasetInfo:
        """A dataset's state, counted again unless it is frozen; ``NotFound`` if unknown."""

    @abstractmethod
    def dataset_files(self, name: str) -> list[str]:
        """The files of a dataset: the frozen list, or the query run now."""

    @abstractmethod
    def freeze_dataset(self, name: str, frozen: bool = True) -> DatasetInfo:
        """Snapshot the file list (``frozen=False`` releases it back to the live query)."""

    @abstractmethod
    def remove_dataset(self, name: str) -> None:
        """Forget a dataset; a missing one is removed already."""

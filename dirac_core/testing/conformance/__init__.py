"""Conformance suites that every driver of a contract runs, ours and third parties'."""

from __future__ import annotations

from dirac_core.testing.conformance.base import ConformanceSuite
from dirac_core.testing.conformance.catalog import CatalogSuite
from dirac_core.testing.conformance.computing import PILOT_SCRIPT, ComputingElementSuite
from dirac_core.testing.conformance.metadata import MetadataCatalogSuite
from dirac_core.testing.conformance.splitters import SplitterSuite
from dirac_core.testing.conformance.storage import StorageProtocolSuite
from dirac_core.testing.conformance.transport import TransportSuite

__all__ = [
    "PILOT_SCRIPT",
    "CatalogSuite",
    "ComputingElementSuite",
    "ConformanceSuite",
    "MetadataCatalogSuite",
    "SplitterSuite",
    "StorageProtocolSuite",
    "TransportSuite",
]

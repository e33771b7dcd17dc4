"""Configuration: frozen attrs classes, one cattrs converter, TOML/YAML and DIRAC ``.cfg`` loaders.

A :class:`Config` holds the :class:`Registry` (VOs, users, groups), the
:class:`Resources` (sites, CEs and queues, SEs, catalogs, site mask) and the
:class:`Operations` (per-VO policy). CEs, storage protocols and catalogs are
plugin sections chosen by their ``type`` key through :class:`SectionTypes`.
Every validation failure is one :class:`~dirac_core.errors.ConfigError`
naming every wrong key path. See ``docs/configuration.md``.
"""

from __future__ import annotations

from dirac_core.config.auth import AuthSettings
from dirac_core.config.converter import make_converter, structure_config, unstructure_config
from dirac_core.config.database import DatabaseSettings
from dirac_core.config.diraccfg_import import load_dirac_cfg
from dirac_core.config.loader import dump_config, load_config
from dirac_core.config.model import Config
from dirac_core.config.operations import Operations, VOPolicy
from dirac_core.config.queues import Queue
from dirac_core.config.registry import VO, Group, Property, Registry, User
from dirac_core.config.requests import RequestSettings
from dirac_core.config.resources import AccessStatus, Medium, Resources, Site, StorageElement
from dirac_core.config.sandboxes import SandboxSettings
from dirac_core.config.sections import (
    ArcCE,
    BatchCE,
    BatchSystem,
    CatalogSection,
    CESection,
    CloudCE,
    DavsProtocol,
    FileProtocol,
    Gfal2Protocol,
    HTCondorCE,
    HttpsProtocol,
    LocalCE,
    MemoryCatalogSection,
    MemoryCESection,
    MemoryProtocolSection,
    ProtocolAccess,
    ProtocolSection,
    RootProtocol,
    S3Protocol,
    SectionTypes,
    SqlCatalog,
    Transport,
    VacuumCE,
)

__all__ = [
    "VO",
    "AccessStatus",
    "ArcCE",
    "AuthSettings",
    "BatchCE",
    "BatchSystem",
    "CESection",
    "CatalogSection",
    "CloudCE",
    "Config",
    "DatabaseSettings",
    "DavsProtocol",
    "FileProtocol",
    "Gfal2Protocol",
    "Group",
    "HTCondorCE",
    "HttpsProtocol",
    "LocalCE",
    "Medium",
    "MemoryCESection",
    "MemoryCatalogSection",
    "MemoryProtocolSection",
    "Operations",
    "Property",
    "ProtocolAccess",
    "ProtocolSection",
    "Queue",
    "Registry",
    "RequestSettings",
    "Resources",
    "RootProtocol",
    "S3Protocol",
    "SandboxSettings",
    "SectionTypes",
    "Site",
    "SqlCatalog",
    "StorageElement",
    "Transport",
    "User",
    "VOPolicy",
    "VacuumCE",
    "dump_config",
    "load_config",
    "load_dirac_cfg",
    "make_converter",
    "structure_config",
    "unstructure_config",
]

"""Plugin sections: config tables whose shape depends on their ``type`` key.

A computing element, a storage protocol of a storage element and a file
catalog are each driven by a plugin, so their config sections form a tagged
union: ``type = "batch"`` selects :class:`BatchCE`. Every section class derives
from its kind's base (:class:`CESection`, :class:`ProtocolSection`,
:class:`CatalogSection`), which holds the common fields, the ``type`` itself (also
the name of the driver to load) and a free ``options`` table for
driver-specific parameters that are not modelled.

:class:`SectionTypes` maps kind -> type name -> class. Third parties add types
with :meth:`SectionTypes.register` on a copy, or through the entry-point group
``dirac.config_sections`` (name ``"<kind>:<type>"``, value an attrs class).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from enum import StrEnum
from importlib.metadata import entry_points

import attrs
from attrs import validators as v

from dirac_core.config._validators import NAME, OPT_INT, OPT_STR, STR_SET, OptionValue
from dirac_core.config.identity import IdentityProviderSection, OidcIdentityProvider, RegistryIdentityProvider
from dirac_core.config.queues import Queue
from dirac_core.errors import ConfigError

__all__ = [
    "ENTRY_POINT_GROUP",
    "ArcCE",
    "BatchCE",
    "BatchSystem",
    "CESection",
    "CatalogSection",
    "CloudCE",
    "DavsProtocol",
    "FileProtocol",
    "Gfal2Protocol",
    "HTCondorCE",
    "HttpsProtocol",
    "LocalCE",
    "MemoryCESection",
    "MemoryCatalogSection",
    "MemoryProtocolSection",
    "ProtocolAccess",
    "ProtocolSection",
    "RemoteCatalogSection",
    "RootProtocol",
    "S3Protocol",
    "SectionTypes",
    "SqlCatalog",
    "Transport",
    "VacuumCE",
]

log = logging.getLogger(__name__)

#: entry-point group through which installed packages add section types
ENTRY_POINT_GROUP = "dirac.config_sections"



# --- computing elements -----------------------------------------------------


@attrs.frozen(kw_only=True)
class CESection:
    """Base of every computing-element section: a named CE with its queues."""

    type: str = attrs.field(validator=NAME)
    name: str = attrs.field(validator=NAME)
    queues: dict[str, Queue] = attrs.field(factory=dict)
    tags: frozenset[str] = attrs.field(default=frozenset(), validator=STR_SET)
    platform: str | None = attrs.field(default=None, validator=OPT_STR)
    options: dict[str, OptionValue] = attrs.field(factory=dict,
                                                 validator=v.instance_of(dict))


class Transport(StrEnum):
    """How a batch CE reaches its batch system's commands."""

    LOCAL = "local"
    SSH = "ssh"


class BatchSystem(StrEnum):
    """Batch systems a :class:`BatchCE` can drive."""

    SLURM = "slurm"
    HTCONDOR = "htcondor"
    PBS = "pbs"
    LSF = "lsf"
    SGE = "sge"
    OAR = "oar"
    FORK = "fork"


@attrs.frozen(kw_only=True)
class LocalCE(CESection):
    """Runs pilots as processes of this machine (DIRAC's InProcess/Pool CE)."""

    type: str = "local"
    work_dir: str | None = attrs.field(default=None, validator=OPT_STR)
    max_slots: int | None = attrs.field(default=None, validator=OPT_INT)


@attrs.frozen(kw_only=True)
class BatchCE(CESection):
    """Submits to a batch system, on this machine or over SSH.

    Raises ``ConfigError`` when ``transport`` is ``ssh`` and ``host`` is missing.
    """

    type: str = "batch"
    batch_system: BatchSystem = attrs.field(converter=BatchSystem,
                                            validator=v.instance_of(BatchSystem))
    transport: Transport = attrs.field(default=Transport.LOCAL, converter=Transport,
                                       validator=v.instance_of(Transport))
    host: str | None = attrs.field(default=None, validator=OPT_STR)
    user: str | None = attrs.field(default=None, validator=OPT_STR)
    port: int = attrs.field(default=22, validator=v.and_(v.instance_of(int), v.ge(1)))
    ssh_key: str | None = attrs.field(default=None, validator=OPT_STR)
    shared_dir: str | None = attrs.field(default=None, validator=OPT_STR)
    submit_options: str | None = attrs.field(default=None, validator=OPT_STR)

    def __attrs_post_init__(self) -> None:
        if self.transport is Transport.SSH and not self.host:
            raise ConfigError([("host", "required when transport is 'ssh'")])


@attrs.frozen(kw_only=True)
class ArcCE(CESection):
    """A NorduGrid ARC CE (A-REX), reached through its REST interface by default."""

    type: str = "arc"
    url: str = attrs.field(validator=v.matches_re(r"https?://.+"))
    interface: str = attrs.field(default="rest", validator=v.in_(("rest", "emies")))
    xrsl_extra: str | None = attrs.field(default=None, validator=OPT_STR)


@attrs.frozen(kw_only=True)
class HTCondorCE(CESection):
    """An HTCondor-CE, reached through a local schedd (``condor_submit -remote``)."""

    type: str = "htcondorce"
    host: str = attrs.field(validator=NAME)
    port: int = attrs.field(default=9619, validator=v.and_(v.instance_of(int), v.ge(1)))
    use_local_schedd: bool = attrs.field(default=True, validator=v.instance_of(bool))
    token_file: str | None = attrs.field(default=None, validator=OPT_STR)


@attrs.frozen(kw_only=True)
class CloudCE(CESection):
    """Starts virtual machines through an Apache libcloud driver; each runs pilots."""

    type: str = "cloud"
    driver: str = attrs.field(validator=NAME)
    endpoint: str | None = attrs.field(default=None, validator=OPT_STR)
    image: str = attrs.field(validator=v.instance_of(str))
    flavour: str = attrs.field(validator=v.instance_of(str))
    key_name: str | None = attrs.field(default=None, validator=OPT_STR)
    max_instances: int = attrs.field(default=10, validator=v.and_(v.instance_of(int), v.ge(0)))
    user_data: str | None = attrs.field(default=None, validator=OPT_STR)


@attrs.frozen(kw_only=True)
class VacuumCE(CESection):
    """A vacuum site: machines start themselves and pull work; nothing is submitted."""

    type: str = "vacuum"
    space: str | None = attrs.field(default=None, validator=OPT_STR)


# --- storage protocols ------------------------------------------------------


class ProtocolAccess(StrEnum):
    """Whether a protocol section is for remote clients or only on the site's own nodes."""

    REMOTE = "remote"
    LOCAL = "local"


@attrs.frozen(kw_only=True)
class ProtocolSection:
    """Base of every storage-protocol section of a storage element.

    ``read`` and ``write`` say which operations this protocol may serve.
    """

    type: str = attrs.field(validator=NAME)
    host: str = attrs.field(default="", validator=v.instance_of(str))
    port: int | None = attrs.field(default=None, validator=OPT_INT)
    path: str = attrs.field(default="/", validator=v.instance_of(str))
    read: bool = attrs.field(default=True, validator=v.instance_of(bool))
    write: bool = attrs.field(default=True, validator=v.instance_of(bool))
    access: ProtocolAccess = attrs.field(default=ProtocolAccess.REMOTE, converter=ProtocolAccess,
                                         validator=v.instance_of(ProtocolAccess))
    space_token: str | None = attrs.field(default=None, validator=OPT_STR)
    options: dict[str, OptionValue] = attrs.field(factory=dict,
                                                 validator=v.instance_of(dict))


@attrs.frozen(kw_only=True)
class FileProtocol(ProtocolSection):
    """Files under ``path`` on a file system this machine mounts."""

    type: str = "file"


@attrs.frozen(kw_only=True)
class RootProtocol(ProtocolSection):
    """XRootD (``root://host:port/path``)."""

    type: str = "root"
    port: int | None = attrs.field(default=1094, validator=OPT_INT)


@attrs.frozen(kw_only=True)
class HttpsProtocol(ProtocolSection):
    """Plain HTTPS GET/PUT."""

    type: str = "https"
    port: int | None = attrs.field(default=443, validator=OPT_INT)


@attrs.frozen(kw_only=True)
class DavsProtocol(ProtocolSection):
    """WebDAV over TLS (``davs://``)."""

    type: str = "davs"
    port: int | None = attrs.field(default=443, validator=OPT_INT)


@attrs.frozen(kw_only=True)
class S3Protocol(ProtocolSection):
    """An S3 bucket; credentials come from the environment, never from this file."""

    type: str = "s3"
    bucket: str = attrs.field(validator=NAME)
    region: str | None = attrs.field(default=None, validator=OPT_STR)
    endpoint_url: str | None = attrs.field(default=None, validator=OPT_STR)


@attrs.frozen(kw_only=True)
class Gfal2Protocol(ProtocolSection):
    """Any protocol gfal2 speaks; ``protocol`` is its URL scheme (srm, root, davs, gsiftp)."""

    type: str = "gfal2"
    protocol: str = attrs.field(validator=NAME)
    wsurl: str | None = attrs.field(default=None, validator=OPT_STR)


# --- catalogs ---------------------------------------------------------------


@attrs.frozen(kw_only=True)
class CatalogSection:
    """Base of every file-catalog section. At most one catalog is the ``master``."""

    type: str = attrs.field(validator=NAME)
    name: str = attrs.field(validator=NAME)
    read: bool = attrs.field(default=True, validator=v.instance_of(bool))
    write: bool = attrs.field(default=True, validator=v.instance_of(bool))
    active: bool = attrs.field(default=True, validator=v.instance_of(bool))
    master: bool = attrs.field(default=False, validator=v.instance_of(bool))
    options: dict[str, OptionValue] = attrs.field(factory=dict,
                                                 validator=v.instance_of(dict))


@attrs.frozen(kw_only=True)
class SqlCatalog(CatalogSection):
    """The SQL file catalog (DIRAC File CatalogSection model).

    Its tables live in the database at ``db_url``, or in the interware's own
    database (``[database]``) when ``db_url`` is None.
    """

    type: str = "sql"
    db_url: str | None = attrs.field(default=None, validator=OPT_STR)


@attrs.frozen(kw_only=True)
class RemoteCatalogSection(CatalogSection):
    """The catalog of a dirac-core server, reached over HTTP (``/api/catalog``).

    ``url`` is the server's base URL; ``credentials_path`` a DiracX credentials file (refreshed
    when its access token expires), None for unauthenticated requests. Every call acts as the
    identity of those credentials, whoever uses the catalog: the server decides from the token.
    """

    type: str = "remote"
    url: str = attrs.field(validator=v.and_(v.instance_of(str), v.matches_re(r"https?://.+")))
    credentials_path: str | None = attrs.field(default=None, validator=OPT_STR)
    timeout: float = attrs.field(default=30.0, validator=v.and_(v.instance_of(float | int), v.gt(0)))


@attrs.frozen(kw_only=True)
class MemoryCatalogSection(CatalogSection):
    """An in-memory catalog, for tests and notebooks."""

    type: str = "memory"


@attrs.frozen(kw_only=True)
class MemoryCESection(CESection):
    """An in-memory computing element (pilots run nowhere), for tests and notebooks."""

    type: str = "memory"


@attrs.frozen(kw_only=True)
class MemoryProtocolSection(ProtocolSection):
    """An in-memory storage protocol, for tests and notebooks."""

    type: str = "memory"


# --- the registry of section types ------------------------------------------

#: kind -> base class every section class of that kind derives from
KIND_BASES: dict[str, type] = {
    "computing_element": CESection,
    "storage_protocol": ProtocolSection,
    "catalog": CatalogSection,
    "identity_provider": IdentityProviderSection,
}

_BUILTINS: dict[str, dict[str, type]] = {
    "computing_element": {"local": LocalCE, "batch": BatchCE, "arc": ArcCE,
                          "htcondorce": HTCondorCE, "cloud": CloudCE, "vacuum": VacuumCE,
                          "memory": MemoryCESection},
    "storage_protocol": {"file": FileProtocol, "root": RootProtocol, "https": HttpsProtocol,
                         "davs": DavsProtocol, "s3": S3Protocol, "gfal2": Gfal2Protocol,
                         "memory": MemoryProtocolSection},
    "catalog": {"sql": SqlCatalog, "memory": MemoryCatalogSection, "remote": RemoteCatalogSection},
    "identity_provider": {"registry": RegistryIdentityProvider, "oidc": OidcIdentityProvider},
}


class SectionTypes:
    """Which attrs class structures a plugin section: kind -> type name -> class.

    Kinds are ``computing_element``, ``storage_protocol``, ``catalog`` and
    ``identity_provider``.
    Build the default set with :meth:`default`, add to a :meth:`copy`, and
    pass it to :func:`~dirac_core.config.make_converter`.
    """

    def __init__(self, types: Mapping[str, Mapping[str, type]] | None = None) -> None:
        self._types: dict[str, dict[str, type]] = {kind: {} for kind in KIND_BASES}
        for kind, table in (types or {}).items():
            for name, cls in table.items():
                self.register(kind, name, cls)

    @classmethod
    def builtin(cls) -> SectionTypes:
        """Only the section types shipped with dirac-core."""
        return cls(_BUILTINS)

    @classmethod
    def default(cls) -> SectionTypes:
        """The built-in types plus those of the ``dirac.config_sections`` entry points.

        An entry point that fails to load is logged and skipped, so a broken
        third-party package cannot stop every config from loading.
        """
        types = cls.builtin()
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            kind, _, type_name = ep.name.partition(":")
            try:
                types.register(kind, type_name, ep.load())
            except Exception as exc:  # any import or registration error of a third party
                log.warning("skipping config section entry point %r: %s", ep.name, exc)
        return types

    def register(self, kind: str, type_name: str, cls: type) -> None:
        """Make ``type = "<type_name>"`` in a ``kind`` section structure as ``cls``.

        Raises ``ValueError`` for an unknown kind, or a ``cls`` that is not an
        attrs class deriving from the kind's base class; registering a name
        again replaces the earlier class.
        """
        base = KIND_BASES.get(kind)
        if base is None:
            raise ValueError(f"unknown section kind {kind!r}; known: {', '.join(KIND_BASES)}")
        if not type_name:
            raise ValueError("a section type name must not be empty")
        if not (attrs.has(cls) and issubclass(cls, base)):
            raise ValueError(f"{cls!r} must be an attrs class deriving from {base.__name__}")
        self._types[kind][type_name] = cls

    def copy(self) -> SectionTypes:
        """An independent copy, to register more types without touching this one."""
        return SectionTypes(self._types)

    def get(self, kind: str, type_name: str) -> type | None:
        """The class registered for ``type_name`` in ``kind``, or None."""
        return self._types[kind].get(type_name)

    def known(self, kind: str) -> list[str]:
        """The sorted type names registered for ``kind``."""
        return sorted(self._types[kind])

    def kinds(self) -> list[str]:
        """Every kind of plugin section."""
        return list(self._types)

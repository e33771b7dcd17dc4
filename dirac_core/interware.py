"""The composition root: one object that builds and holds every part of a deployment.

``Interware.embedded(path)`` is a working single-machine system on a SQLite
file with a development configuration: nothing to start. ``from_config``
builds any deployment from a configuration. Engines added by later parts
(workload, data, requests, transformations) are built here from the same
database, configuration, clock and hooks, and nowhere else.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path
from types import TracebackType

import pluggy

from dirac_core.accounting import Accounting
from dirac_core.auth.manager import AuthManager
from dirac_core.config import Config, load_config
from dirac_core.db import Database
from dirac_core.dms.filecatalog import FileCatalog
from dirac_core.dms.manager import DataManager
from dirac_core.dms.staging import Stager, StagingTask
from dirac_core.dms.storage_element import StorageElements
from dirac_core.dms.wiring import build_catalog
from dirac_core.errors import ConfigError, NotFound, PluginError
from dirac_core.messaging import Messaging, start_messaging
from dirac_core.model.clock import Clock, SystemClock
from dirac_core.model.identity import Identity
from dirac_core.plugins.manager import make_plugin_manager
from dirac_core.rms.failover import RequestFailover
from dirac_core.rms.store import RequestStore
from dirac_core.rms.tasks import RequestCleaningTask, RequestExecutionTask
from dirac_core.rms.wiring import build_executor, handler_types, load_handlers
from dirac_core.rss import ResourceStatusSystem, rss_tasks
from dirac_core.tasks import PeriodicTask, TaskScheduler
from dirac_core.transformation import TransformationSystem, transformation_tasks
from dirac_core.transformation.productions import ProductionSystem
from dirac_core.wms.engine import WorkloadManager
from dirac_core.wms.pilots import PilotRegistry
from dirac_core.wms.tasks import wms_tasks

__all__ = ["EMBEDDED_CONFIG", "Interware"]

log = logging.getLogger(__name__)

#: The development configuration of an embedded interware; ``{root}`` is its directory.
EMBEDDED_CONFIG = """\
[database]
url = "sqlite:///{root}/dirac.sqlite"

[registry]
default_group = "demo_user"

[registry.vos.demo]
name = "demo"
default_group = "demo_user"

[registry.users.alice]
name = "alice"
email = "alice@example.org"

[registry.users.admin]
name = "admin"

[registry.users.pilot]
name = "pilot"

[registry.groups.demo_user]
name = "demo_user"
vo = "demo"
users = ["alice", "admin"]
properties = ["NormalUser"]

[registry.groups.demo_pilot]
name = "demo_pilot"
vo = "demo"
users = ["pilot"]
properties = ["GenericPilot"]

[registry.groups.demo_admin]
name = "demo_admin"
vo = "demo"
users = ["admin"]
properties = ["NormalUser", "JobAdministrator", "ServiceAdministrator", "FileCatalogManagement",
              "ProductionManagement", "Operator"]

[resources]
site_mask = ["DIRAC.Embedded.local"]

[resources.sites.DIRAC."DIRAC.Embedded.local"]
name = "DIRAC.Embedded.local"
ses = ["Embedded-SE", "Embedded-SE2"]

[[resources.sites.DIRAC."DIRAC.Embedded.local".ces]]
type = "local"
name = "localhost"

[resources.sites.DIRAC."DIRAC.Embedded.local".ces.queues.default]
name = "default"
max_cpu_time = 86400
max_total_jobs = 4
max_waiting_jobs = 2

[resources.storage_elements.Embedded-SE]
name = "Embedded-SE"

[[resources.storage_elements.Embedded-SE.protocols]]
type = "file"
path = "{root}/storage"

[resources.storage_elements.Embedded-SE2]
name = "Embedded-SE2"

[[resources.storage_elements.Embedded-SE2.protocols]]
type = "file"
path = "{root}/storage2"

[resources.catalogs.DiracFileCatalog]
type = "sql"
name = "DiracFileCatalog"
master = true
"""


class Interware:
    """A deployment: configuration, database, clock, hooks and (as they arrive) the engines.

    Build it with :meth:`embedded` or :meth:`from_config`; close it (or use
    it as a context manager) to release the database.
    """

    def __init__(self, *, config: Config, database: Database, clock: Clock,
                 hooks: pluggy.PluginManager, owner: str | None = None) -> None:
        self.config = config
        self.database = database
        self.clock = clock
        self.hooks = hooks
        #: who this process is among replicas sharing the database (lease owner)
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}"
        self.scheduler = TaskScheduler(database, clock, hooks, (), owner=self.owner)
        #: the workload management engine
        self.wms = WorkloadManager(database=database, config=config, clock=clock, hooks=hooks)
        #: identity and tokens
        self.auth = AuthManager(database=database, config=config, clock=clock)
        #: pilot records
        self.pilots = PilotRegistry(database=database, clock=clock, hooks=hooks)
        #: accounting records and reports (its hooks record jobs, pilots and transfers as they end)
        self.accounting = Accounting(database=database, clock=clock, hooks=hooks)
        for task in wms_tasks(self.wms):
            self.scheduler.add(task)
        #: the resource status system: statuses of sites, CEs, queues and SEs, obeyed by the matcher,
        #: the site directors (their ``gate``) and the storage elements below (docs/status.md)
        self.status = ResourceStatusSystem(database=database, config=config, clock=clock, pilots=self.pilots,
                                           wms=self.wms)
        self.wms.matcher.gate = self.status.gate
        for task in rss_tasks(self.status):
            self.scheduler.add(task)
        #: the storage elements, by name (their access statuses from ``status``)
        self.storage = StorageElements(config, status=self.status.se_access)
        #: the file catalogs as one (None when none is configured or its driver is missing)
        self.catalog: FileCatalog | None = None
        #: the data manager and the stager (None without a catalog)
        self.dm: DataManager | None = None
        self.stager: Stager | None = None
        if config.resources.catalogs:
            try:
                self.catalog = build_catalog(config, database, clock)
            except (PluginError, ConfigError) as exc:
                log.warning("no file catalog: %s", exc)
        if self.catalog is not None:
            self.wms.catalog = self.catalog
            self.dm = DataManager(catalog=self.catalog, storage=self.storage, hooks=hooks)
            self.stager = Stager(database=database, wms=self.wms, catalog=self.catalog,
                                 storage=self.storage, clock=clock)
            self.scheduler.add(StagingTask(self.stager))
        # -- requests: the store accepts the types of the loaded handlers; the executor runs them
        #: the operation handlers by type (``dirac.operation_handlers``)
        self.operation_handlers = load_handlers()
        #: the request store (the to-do list and the failover system)
        self.requests = RequestStore(database=database, clock=clock,
                                     types=handler_types(self.operation_handlers))
        #: the request executor (``run_once()``: one cycle); ``services`` reach other systems
        self.request_executor = build_executor(self)
        self.scheduler.add(RequestExecutionTask(self.request_executor,
                                                interval=timedelta(seconds=config.requests.interval)))
        self.scheduler.add(RequestCleaningTask(self.requests, config.requests))
        # -- transformations and productions: tasks become jobs or requests; SetFileStatus reaches them
        #: the transformation system (its input-data hook is registered in ``hooks``)
        self.transformations = TransformationSystem(database=database, clock=clock, config=config,
                                                    wms=self.wms, requests=self.requests,
                                                    catalog=self.catalog, hooks=hooks,
                                                    free_space=self.storage.free_space,
                                                    data_manager=None if self.catalog is None
                                                    else self.data_manager)
        #: productions: chains of transformations
        self.productions = ProductionSystem(database=database, clock=clock,
                                            transformations=self.transformations)
        self.request_executor.services["transformations"] = self.transformations
        for task in transformation_tasks(self.transformations):
            self.scheduler.add(task)
        #: the publisher of job, pilot, data and request events (None without ``[messaging] type``)
        self.messaging: Messaging | None = start_messaging(config.messaging, hooks=hooks, database=database,
                                                           clock=clock)

    @classmethod
    def from_config(cls, config: Config, *, clock: Clock | None = None,
                    plugins: Iterable[object] = (), migrate: bool = True) -> Interware:
        """Build the deployment ``config`` describes.

        ``plugins`` are hook implementations registered besides the ``dirac.hooks``
        entry points; ``migrate`` brings the database schema to the latest
        revision (a service that must not change schemas passes False).
        Raises ``DatabaseUnavailable`` when the database cannot be reached.
        """
        database = Database(config.database.url)
        try:
            if migrate:
                database.upgrade()
            else:
                database.check()
            hooks = make_plugin_manager(plugins)
        except BaseException:
            database.close()
            raise
        return cls(config=config, database=database, clock=clock or SystemClock(), hooks=hooks)

    @classmethod
    def embedded(cls, path: str | os.PathLike[str], *, clock: Clock | None = None,
                 plugins: Iterable[object] = ()) -> Interware:
        """A single-machine interware in the directory ``path`` (created if needed).

        The database is ``path/dirac.sqlite``, files go under ``path/storage``;
        the configuration is :data:`EMBEDDED_CONFIG`, unless ``path/dirac.toml``
        exists, in which case that file is used.
        """
        return cls.from_config(cls.embedded_config(path), clock=clock, plugins=plugins)

    @staticmethod
    def embedded_config(path: str | os.PathLike[str]) -> Config:
        """The configuration :meth:`embedded` uses for ``path`` (creating ``path/storage``)."""
        root = Path(path).resolve()
        (root / "storage").mkdir(parents=True, exist_ok=True)
        own = root / "dirac.toml"
        return load_config(own) if own.exists() else load_config(
            EMBEDDED_CONFIG.format(root=root.as_posix()), format="toml")

    def identity(self, user: str, group: str | None = None) -> Identity:
        """The identity of a registry user acting in ``group`` (default: their VO's default group).

        For embedded use and tests; the server builds identities from tokens.
        Raises ``NotFound`` for an unknown user or a group the user is not in.
        """
        registry = self.config.registry
        if user not in registry.users:
            raise NotFound(f"unknown user {user!r}", user=user)
        groups = {g.name: g for g in registry.groups_of(user)}
        if group is None:
            defaults = [registry.vos[g.vo].default_group for g in groups.values()]
            group = next((d for d in defaults if d in groups), registry.default_group)
            if group not in groups:
                group = next(iter(sorted(groups)), None)
        if group is None or group not in groups:
            raise NotFound(f"user {user!r} is not in group {group!r}", user=user, group=group)
        chosen = groups[group]
        return Identity(user=user, group=group, vo=chosen.vo, properties=chosen.properties)

    def data_manager(self, identity: Identity, *, job_id: int | None = None) -> DataManager:
        """A data manager acting as ``identity``: the catalog checks what it may do, and work that
        cannot be finished now becomes a request of ``identity`` (and ``job_id``).

        Raises ``NotFound`` when this interware has no file catalog.
        """
        if self.catalog is None:
            raise NotFound("this interware has no file catalog (see [resources.catalogs])")
        failover = RequestFailover(self.requests, owner=identity, job_id=job_id,
                                   component="JobWrapper" if job_id is not None else "DataManager")
        return DataManager(catalog=self.catalog.acting_as(identity), storage=self.storage, hooks=self.hooks,
                           failover=failover)

    def add_task(self, task: PeriodicTask) -> None:
        """Schedule a periodic task (run by :meth:`TaskScheduler.run_due`)."""
        self.scheduler.add(task)

    def close(self) -> None:
        """Stop the request executor; release the storage elements, the catalogs, the identity
        provider's connections; stop the messaging (what it holds is sent or buffered on disk);
        release the database."""
        self.request_executor.close()
        self.accounting.close()
        self.storage.close()
        self.status.close()
        self.auth.close()
        if self.catalog is not None:
            self.catalog.close()
        if self.messaging is not None:
            self.messaging.close()
        self.database.close()

    def __enter__(self) -> Interware:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Interware({self.database!r})"

"""The root of the configuration: database, registry, resources and operations together."""

from __future__ import annotations

import attrs

from dirac_core.config.auth import AuthSettings
from dirac_core.config.database import DatabaseSettings
from dirac_core.config.messaging import MessagingSettings
from dirac_core.config.operations import Operations
from dirac_core.config.registry import Registry
from dirac_core.config.requests import RequestSettings
from dirac_core.config.resource_status import ResourceStatusSettings
from dirac_core.config.resources import Resources
from dirac_core.config.sandboxes import SandboxSettings
from dirac_core.errors import ConfigError

__all__ = ["Config"]


@attrs.frozen(kw_only=True)
class Config:
    """A whole configuration; every part defaults to empty (and the database to SQLite in memory).

    Raises :class:`ConfigError` when the parts disagree: operations for an
    unknown VO, a failover SE that does not exist, limits for an unknown site,
    a sandbox SE that does not exist.
    """

    database: DatabaseSettings = attrs.Factory(DatabaseSettings)
    registry: Registry = attrs.Factory(Registry)
    resources: Resources = attrs.Factory(Resources)
    operations: Operations = attrs.Factory(Operations)
    auth: AuthSettings = attrs.Factory(AuthSettings)
    sandboxes: SandboxSettings = attrs.Factory(SandboxSettings)
    requests: RequestSettings = attrs.Factory(RequestSettings)
    messaging: MessagingSettings = attrs.Factory(MessagingSettings)
    resource_status: ResourceStatusSettings = attrs.Factory(ResourceStatusSettings)

    def __attrs_post_init__(self) -> None:
        problems: list[tuple[str, str]] = []
        ses = self.resources.storage_elements
        sites = {site.name for site in self.resources.all_sites()}
        for vo in sorted(self.operations.vos.keys() - self.registry.vos.keys()):
            problems.append((f"operations.vos.{vo}", f"unknown VO {vo!r}"))
        policies = [("defaults", self.operations.defaults),
                    *((f"vos.{vo}", p) for vo, p in self.operations.vos.items())]
        for where, policy in policies:
            for key in ("output_ses", "failover_ses"):
                for i, se in enumerate(getattr(policy, key)):
                    if se not in ses:
                        problems.append((f"operations.{where}.{key}[{i}]",
                                         f"unknown storage element {se!r}"))
            for table in ("running_limits", "matching_delays"):
                for site in sorted(getattr(policy, table).keys() - sites):
                    problems.append((f"operations.{where}.{table}.{site}",
                                     f"unknown site {site!r}"))
        if self.sandboxes.se is not None and self.sandboxes.se not in ses:
            problems.append(("sandboxes.se", f"unknown storage element {self.sandboxes.se!r}"))
        if problems:
            raise ConfigError(problems)

"""Where the library keeps sandboxes when it builds the store itself (embedded use, pilots, a server)."""

from __future__ import annotations

import attrs

from dirac_core.config._validators import NAME, OPT_STR
from dirac_core.errors import ConfigError
from dirac_core.model.lfn import InvalidLFN, normalize_lfn

__all__ = ["SandboxSettings"]


@attrs.frozen(kw_only=True)
class SandboxSettings:
    """The sandbox store's bytes: a directory or a storage element, never both.

    - ``directory``: the archives are files under it (default when neither is
      set: ``sandboxes`` beside a SQLite database file);
    - ``se``: the name of a storage element of ``resources.storage_elements``;
      the archives are at ``<se_path>/<vo>/sha256:<checksum>.<format>`` on it;
    - ``se_path``: that base path (default ``/sandboxes``).

    A server's ``ServerSettings.sandbox_dir`` or ``sandbox_se`` overrides this section.
    """

    directory: str | None = attrs.field(default=None, validator=OPT_STR)
    se: str | None = attrs.field(default=None, validator=attrs.validators.optional(NAME))
    se_path: str = attrs.field(default="/sandboxes", validator=attrs.validators.instance_of(str))

    def __attrs_post_init__(self) -> None:
        problems = []
        if self.directory is not None and self.se is not None:
            problems.append(("se", "give either directory or se, not both"))
        try:
            normalize_lfn(self.se_path)
        except InvalidLFN as exc:
            problems.append(("se_path", str(exc)))
        if problems:
            raise ConfigError(problems)

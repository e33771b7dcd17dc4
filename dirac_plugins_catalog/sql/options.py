"""The SQL catalog's options (the ``options`` table of its ``[resources.catalogs.X]`` section).

=================  =======  ==========================================================
option             default  meaning
=================  =======  ==========================================================
``unique_guid``    false    a GUID may belong to one file only (DIRAC's ``UniqueGUID``)
``global_read``    true     every identity may read everything (``GlobalReadAccess``)
``default_mode``   0o775    mode of new directories and files (DIRAC's ``DefaultUmask``,
                            which is a mode despite its name; ``default_umask`` is
                            accepted as its alias); an int or an octal string ``"775"``
=================  =======  ==========================================================
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs
from attrs import validators as v

from dirac_core.errors import ConfigError

__all__ = ["CatalogOptions"]


@attrs.frozen(kw_only=True)
class CatalogOptions:
    """Behaviour switches of one SQL catalog."""

    unique_guid: bool = attrs.field(default=False, validator=v.instance_of(bool))
    global_read: bool = attrs.field(default=True, validator=v.instance_of(bool))
    default_mode: int = attrs.field(default=0o775, validator=v.and_(v.instance_of(int), v.ge(0),
                                                                   v.le(0o777)))

    @classmethod
    def from_options(cls, options: Mapping[str, object], *, where: str = "options") -> CatalogOptions:
        """Parse a section's ``options``; ``ConfigError`` lists every wrong key with its path."""
        problems: list[tuple[str, str]] = []
        values: dict[str, object] = {}
        for key, value in options.items():
            name = "default_mode" if key == "default_umask" else key
            if name in ("unique_guid", "global_read"):
                if isinstance(value, bool):
                    values[name] = value
                else:
                    problems.append((f"{where}.{key}", f"expected a boolean, got {value!r}"))
            elif name == "default_mode":
                mode = _mode(value)
                if mode is None:
                    problems.append((f"{where}.{key}",
                                     f"expected a mode such as 0o775 or '775', got {value!r}"))
                else:
                    values[name] = mode
            else:
                problems.append((f"{where}.{key}", "unknown option (known: unique_guid, global_read, "
                                                   "default_mode)"))
        if problems:
            raise ConfigError(problems)
        return cls(**values)  # type: ignore[arg-type]


def _mode(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        mode = value
    elif isinstance(value, str):
        text = value.strip().lower().removeprefix("0o")
        try:
            mode = int(text, 8)
        except ValueError:
            return None
    else:
        return None
    return mode if 0 <= mode <= 0o777 else None

"""Finding and loading drivers from entry points (stevedore).

:func:`load_driver` returns the class (or factory) registered under a name;
the caller instantiates it with its configuration, so no plugin ever looks
configuration up by itself. Errors say what is installed
(:class:`~dirac_core.errors.PluginNotFound`) or which extra to install
(:class:`~dirac_core.errors.PluginUnavailable`).
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any

from stevedore import DriverManager
from stevedore.exception import NoMatches

from dirac_core.errors import PluginError, PluginNotFound, PluginUnavailable
from dirac_core.plugins.groups import PluginGroup

__all__ = ["BACKEND_EXTRAS", "available", "import_backend", "load_driver"]

log = logging.getLogger(__name__)

#: Top-level backend modules and the extra of dirac-core that installs each.
BACKEND_EXTRAS: dict[str, str] = {
    "XRootD": "xrootd",
    "asyncssh": "ssh",
    "paramiko": "ssh",
    "boto3": "s3",
    "botocore": "s3",
    "fastapi": "server",
    "uvicorn": "server",
    "MySQLdb": "mysql",
    "psycopg": "postgresql",
    "libcloud": "cloud",
    "htcondor": "htcondor",
    "htcondor2": "htcondor",
    "classad2": "htcondor",
    "gfal2": "gfal2",
    "stomp": "messaging",
}


def available(group: PluginGroup | str) -> list[str]:
    """The sorted names registered in ``group`` (without loading them)."""
    return sorted({ep.name for ep in entry_points(group=str(group))})


def load_driver(group: PluginGroup | str, name: str) -> Any:
    """Load and return the object registered as ``name`` in ``group``.

    Raises :class:`PluginNotFound` (listing the installed names) when no
    entry point has that name, :class:`PluginUnavailable` (naming the extra)
    when importing it fails for a missing backend library, and
    :class:`PluginError` for any other import failure.
    """
    group = str(group)
    if name not in available(group):
        raise PluginNotFound(group, name, available(group))
    try:
        manager: DriverManager[Any] = DriverManager(namespace=group, name=name, invoke_on_load=False,
                                on_load_failure_callback=_reraise)
    except ModuleNotFoundError as exc:
        raise _unavailable(group, name, exc) from exc
    except NoMatches as exc:  # pragma: no cover - raced with an uninstall
        raise PluginNotFound(group, name, available(group)) from exc
    except PluginError:
        raise
    except Exception as exc:
        raise PluginError(f"plugin {name!r} in group {group!r} failed to load: {exc}",
                          group=group, name=name) from exc
    return manager.driver


def _reraise(manager: object, entrypoint: object, exc: BaseException) -> None:
    raise exc


def _unavailable(group: str, name: str, exc: ModuleNotFoundError) -> PluginUnavailable:
    missing = (exc.name or "").split(".")[0]
    return PluginUnavailable(group, name, BACKEND_EXTRAS.get(missing, "all"), missing or str(exc))


def import_backend(module: str, *, group: PluginGroup | str, name: str) -> ModuleType:
    """Import a plugin's backend library on first use.

    Plugin modules call this inside methods (never at import time), so that
    the plugin is listed and its configuration validated even where the
    backend is not installed. Raises :class:`PluginUnavailable` naming the
    extra that installs ``module``.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        top = module.split(".", maxsplit=1)[0]
        raise PluginUnavailable(str(group), name, BACKEND_EXTRAS.get(top, "all"), top) from exc

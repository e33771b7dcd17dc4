"""Building the request system of an interware: handlers from entry points, the executor.

:func:`load_handlers` instantiates every driver of ``dirac.operation_handlers`` (a driver that
cannot be loaded is logged and left out); :func:`handler_types` gives the store their specs;
:func:`build_executor` makes the executor of an interware (its store, SEs, catalog, registry,
hooks and WMS), with optional replacements for tests and notebooks.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

from dirac_core.config.requests import RequestSettings
from dirac_core.dms.storage_element import StorageElements
from dirac_core.errors import PluginError, PluginUnavailable
from dirac_core.model.identity import Identity
from dirac_core.plugins.groups import PluginGroup
from dirac_core.plugins.loading import BACKEND_EXTRAS
from dirac_core.plugins.operations import OperationHandler, OperationType
from dirac_core.rms.executor import RequestExecutor
from dirac_core.rms.validation import BUILTIN_TYPES

if TYPE_CHECKING:
    from dirac_core.interware import Interware

__all__ = ["build_executor", "handler_types", "load_handlers"]

log = logging.getLogger(__name__)


def load_handlers() -> dict[str, OperationHandler]:
    """An instance of every installed operation handler, by its operation type."""
    handlers: dict[str, OperationHandler] = {}
    group = str(PluginGroup.OPERATION_HANDLERS)
    for entry in sorted(entry_points(group=group), key=lambda e: e.name):  # one scan: interwares are many
        name = entry.name
        try:
            handler = _load(entry, group)()
        except PluginError as exc:
            log.warning("operation handler %s not loaded: %s", name, exc)
            continue
        if handler.spec.name != name:
            log.warning("operation handler %s declares the type %s: not loaded", name, handler.spec.name)
            continue
        handlers[name] = handler
    return handlers


def _load(entry: EntryPoint, group: str) -> Any:
    try:
        return entry.load()
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        raise PluginUnavailable(group, entry.name, BACKEND_EXTRAS.get(missing, "all"), missing) from exc
    except Exception as exc:
        raise PluginError(f"plugin {entry.name!r} in group {group!r} failed to load: {exc}",
                          group=group, name=entry.name) from exc


def handler_types(handlers: Mapping[str, OperationHandler]) -> dict[str, OperationType]:
    """The operation types ``handlers`` run (the built-in ones when there are none)."""
    if not handlers:
        return dict(BUILTIN_TYPES)
    return {name: handler.spec for name, handler in handlers.items()}


def build_executor(iw: Interware, *, handlers: Mapping[str, OperationHandler] | None = None,
                   storage: StorageElements | None = None,
                   settings: RequestSettings | None = None) -> RequestExecutor:
    """The request executor of ``iw``; ``handlers``, ``storage`` and ``settings`` replace the
    interware's (the handlers' types must be ones its store accepts)."""
    def identity(user: str, group: str, vo: str) -> Identity:
        return iw.identity(user, group)

    chosen = iw.operation_handlers if handlers is None else handlers
    return RequestExecutor(store=iw.requests, handlers=chosen, storage=storage or iw.storage,
                           clock=iw.clock, catalog=iw.catalog, identity=identity, hooks=iw.hooks, wms=iw.wms,
                           settings=settings or iw.config.requests)

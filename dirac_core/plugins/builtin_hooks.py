"""Built-in hook implementations; the built-in behaviour is itself a plugin.

:class:`TaskLogging` logs every periodic task run with its duration and
failure, through the library's logger (the application decides where logs go).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator
from typing import Any

from dirac_core.plugins.hookspecs import hookimpl

__all__ = ["TaskLogging"]

log = logging.getLogger("dirac_core.tasks")


class TaskLogging:
    """Logs each periodic task run at DEBUG, and its failure at ERROR."""

    @hookimpl(wrapper=True)
    def dirac_periodic_task(self, name: str) -> Generator[None, Any, Any]:
        start = time.perf_counter()
        try:
            result = yield
        except Exception:
            log.exception("periodic task %s failed after %.3f s", name, time.perf_counter() - start)
            raise
        log.debug("periodic task %s ran in %.3f s", name, time.perf_counter() - start)
        return result

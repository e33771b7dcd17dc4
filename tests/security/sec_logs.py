"""Every log record of the process, at DEBUG, whatever logger wrote it (uvicorn's included)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager


class Everything(logging.Handler):
    """Keeps each record formatted, with its traceback and stack if any."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    @property
    def text(self) -> str:
        """All records so far, one after the other."""
        return "\n".join(self.lines)


@contextmanager
def every_log_record() -> Iterator[Everything]:
    """Capture every record at DEBUG: the root logger and every logger that does not propagate
    (uvicorn's) get the handler, every logger is set to DEBUG; all is put back afterwards."""
    handler = Everything()
    loggers = [logging.getLogger(), *(found for found in logging.root.manager.loggerDict.values()
                                       if isinstance(found, logging.Logger))]
    saved = [(found, found.level, found.disabled) for found in loggers]
    attached = [found for found in loggers if found is logging.getLogger() or not found.propagate]
    for found in loggers:
        found.setLevel(logging.DEBUG)
        found.disabled = False
    for found in attached:
        found.addHandler(handler)
    try:
        yield handler
    finally:
        for found in attached:
            found.removeHandler(handler)
        for found, level, disabled in saved:
            found.setLevel(level)
            found.disabled = disabled

"""dirac-core: an embeddable interware for distributed computing and storage.

The top level exports what a user needs first: the :class:`Interware`
composition root, the configuration loaders, the database, clocks and the
error root. Everything else lives in the subpackages (``config``, ``db``,
``model``, ``plugins``, ``testing``).
"""

from __future__ import annotations

import logging
from importlib.metadata import PackageNotFoundError, version

from dirac_core.config import Config, load_config, load_dirac_cfg
from dirac_core.db import Database
from dirac_core.errors import BulkResult, DiracError
from dirac_core.interware import Interware
from dirac_core.model.clock import Clock, FakeClock, SystemClock

try:
    __version__ = version("dirac-core")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

# a library never configures logging; it only makes sure there is no "no handler" warning
logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "BulkResult",
    "Clock",
    "Config",
    "Database",
    "DiracError",
    "FakeClock",
    "Interware",
    "SystemClock",
    "__version__",
    "load_config",
    "load_dirac_cfg",
]

"""Finding the ``gfal2`` Python bindings, including Debian's outside the virtual environment.

PyPI's ``gfal2-python`` does not build against the gfal2 libraries Linux
distributions ship, so the usual way to get the bindings is the system
package (Debian/Ubuntu: ``python3-gfal2``), which installs one extension
module, ``gfal2.cpython-3XX-<arch>.so``, into ``/usr/lib/python3/dist-packages``:
a folder a virtual environment does not see.

:func:`import_gfal2` first tries a normal ``import gfal2``; when that fails
it looks for the extension module in :data:`SYSTEM_DIRS` only and loads
that one file under the name ``gfal2``. ``sys.path`` is never changed, so no
other system package leaks into the environment; like any import, the
loaded module is registered in ``sys.modules`` (an extension module must be
initialised only once per process). The extension is built for one Python
minor version: a mismatch is reported, not worked around.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import importlib.util
import sys
from collections.abc import Sequence
from types import ModuleType

from dirac_core.errors import PluginUnavailable
from dirac_core.plugins.groups import PluginGroup

__all__ = ["INSTALL_HINT", "SYSTEM_DIRS", "import_gfal2"]

#: Folders of distribution-packaged Python modules searched for the gfal2 extension.
SYSTEM_DIRS: tuple[str, ...] = ("/usr/lib/python3/dist-packages", "/usr/lib64/python3/site-packages")
#: What to install when the bindings are missing.
INSTALL_HINT = ("gfal2's Python bindings come from the system: on Debian/Ubuntu "
                "apt-get install python3-gfal2 gfal2-plugin-file gfal2-plugin-xrootd gfal2-plugin-http")


def _unavailable(name: str, reason: str) -> PluginUnavailable:
    error = PluginUnavailable(str(PluginGroup.STORAGE_PROTOCOLS), name, "gfal2", f"gfal2 ({reason})")
    error.add_note(INSTALL_HINT)
    return error


def import_gfal2(search_dirs: Sequence[str] = SYSTEM_DIRS, *, plugin_name: str = "gfal2") -> ModuleType:
    """The ``gfal2`` module: importable as is, or the extension found in ``search_dirs``.

    Raises :class:`~dirac_core.errors.PluginUnavailable` (with a note on
    what to install) when neither exists or the extension found does not
    load in this interpreter (another Python version, missing libgfal2).
    """
    try:
        return importlib.import_module("gfal2")
    except ModuleNotFoundError as exc:
        if exc.name != "gfal2":
            raise _unavailable(plugin_name, f"its dependency {exc.name} is missing") from exc
    spec = importlib.machinery.PathFinder.find_spec("gfal2", list(search_dirs))
    if spec is None or not isinstance(spec.loader, importlib.machinery.ExtensionFileLoader):
        version = f"{sys.version_info.major}.{sys.version_info.minor}"
        raise _unavailable(plugin_name, f"not importable and no extension module gfal2 for Python {version} "
                           f"in {', '.join(search_dirs)}")
    try:
        # for an extension module, module_from_spec loads the shared library and initialises it
        module = importlib.util.module_from_spec(spec)
        sys.modules["gfal2"] = module
        spec.loader.exec_module(module)
    except ImportError as exc:
        sys.modules.pop("gfal2", None)
        raise _unavailable(plugin_name, f"{spec.origin} does not load: {exc}") from exc
    return module

"""The thin reference server: ``create_app(interware, settings)`` and ``dirac-core server``."""

from dirac_server.app import create_app
from dirac_server.settings import ServerSettings

__all__ = ["ServerSettings", "create_app"]

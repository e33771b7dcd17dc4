"""The ``dirac-core`` command line (typer)."""

from __future__ import annotations

from dirac_core.cli.app import app, main

__all__ = ["app", "main"]

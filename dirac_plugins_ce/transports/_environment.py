"""Validation of the extra environment a transport gives its commands."""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["check_environment", "env_prefix"]

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def check_environment(environment: Mapping[str, str] | None) -> dict[str, str]:
    """A copy of ``environment``; ``ValueError`` for a name a shell could not export.

    Values may hold anything but a NUL byte, which no environment can carry.
    """
    checked = dict(environment or {})
    for name, value in checked.items():
        if not _NAME.fullmatch(name):
            raise ValueError(f"invalid environment variable name {name!r}")
        if "\0" in value:
            raise ValueError(f"environment variable {name} contains a NUL byte")
    return checked


def env_prefix(environment: Mapping[str, str]) -> list[str]:
    """The ``env NAME=VALUE ...`` words that run a command with ``environment`` added.

    Empty when there is nothing to add, so a plain command stays plain.
    """
    if not environment:
        return []
    return ["env", *(f"{name}={value}" for name, value in environment.items())]

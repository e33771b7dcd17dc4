"""A small TOML writer for plain config data (no dependency on tomli-w).

It writes what :func:`~dirac_core.config.converter.unstructure_config`
produces: tables, lists of tables, lists of scalars, strings, integers,
floats and booleans. ``None`` values are left out (TOML has no null).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["dumps_toml"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _string(key)


def _string(text: str) -> str:
    # JSON's escapes are valid TOML, but TOML also forbids a raw DEL (0x7f)
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _number(value: float) -> str:
    if isinstance(value, int) or math.isfinite(value):
        return repr(value)
    if math.isnan(value):
        return "nan"
    return "inf" if value > 0 else "-inf"


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return _number(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_scalar(x) for x in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_key(k)} = {_scalar(x)}" for k, x in value.items()
                               if x is not None) + "}"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def _is_table_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and bool(value) and \
        all(isinstance(x, Mapping) for x in value)


def _write_table(table: Mapping[str, Any], path: list[str], out: list[str]) -> None:
    header = ".".join(_key(p) for p in path)
    subtables = []
    for key, value in table.items():
        if value is None:
            continue
        if (isinstance(value, Mapping) and value) or _is_table_list(value):
            subtables.append((key, value))
        else:
            out.append(f"{_key(key)} = {_scalar(value)}")
    for key, value in subtables:
        if isinstance(value, Mapping):
            # a table holding only sub-tables needs no header of its own
            if any(not (isinstance(x, Mapping) and x) and not _is_table_list(x)
                   for x in value.values() if x is not None):
                out.extend(["", f"[{header + '.' if header else ''}{_key(key)}]"])
            _write_table(value, [*path, key], out)
        else:
            for item in value:
                out.extend(["", f"[[{header + '.' if header else ''}{_key(key)}]]"])
                _write_table(item, [*path, key], out)


def dumps_toml(data: Mapping[str, Any]) -> str:
    """``data`` as TOML text that ``tomllib.loads`` reads back equal (less ``None`` values)."""
    out: list[str] = []
    _write_table(data, [], out)
    return "\n".join(out).lstrip("\n") + "\n"

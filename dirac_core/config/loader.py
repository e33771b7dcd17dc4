"""Reading a configuration from TOML or YAML, and writing one back.

:func:`load_config` takes a path or the text itself; the format comes from
the file suffix (``.toml``, ``.yaml``/``.yml``; ``.cfg`` goes to the DIRAC
importer) or from ``format``. Every failure is a :class:`ConfigError` naming
the file, with the line for a syntax error.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml

from dirac_core.config.converter import make_converter, structure_config, unstructure_config
from dirac_core.config.diraccfg_import import load_dirac_cfg
from dirac_core.config.model import Config
from dirac_core.config.sections import SectionTypes
from dirac_core.config.toml_writer import dumps_toml
from dirac_core.errors import ConfigError

__all__ = ["Format", "dump_config", "load_config", "read_source"]

#: the formats :func:`load_config` reads
Format = Literal["toml", "yaml", "cfg"]

_SUFFIXES: dict[str, Format] = {".toml": "toml", ".yaml": "yaml", ".yml": "yaml", ".cfg": "cfg"}
_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")


def read_source(path_or_text: str | os.PathLike[str],
                format: Format | None) -> tuple[str, str | None, Format]:
    """Return ``(text, source, format)`` for a path or a text.

    A ``PathLike``, or a ``str`` without a newline, is a path; any other
    ``str`` is the configuration itself (TOML unless ``format`` says).
    Raises :class:`ConfigError` for a file that cannot be read or whose
    format cannot be told.
    """
    if isinstance(path_or_text, str) and "\n" in path_or_text:
        return path_or_text, None, format or "toml"
    path = Path(path_or_text)
    source = str(path)
    if format is None:
        format = _SUFFIXES.get(path.suffix.lower())
        if format is None:
            known = ", ".join(_SUFFIXES)
            raise ConfigError([("", f"cannot tell the format from suffix {path.suffix!r} "
                                    f"(known: {known}); pass format=")], source=source)
    try:
        return path.read_text(encoding="utf-8"), source, format
    except FileNotFoundError:
        raise ConfigError([("", "file not found")], source=source) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([("", f"cannot read the file: {exc}")], source=source) from exc


def parse_text(text: str, format: Literal["toml", "yaml"], source: str | None) -> Any:
    """Parse TOML or YAML ``text`` into plain data; a syntax error names its line."""
    if format == "toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            match = _TOML_POSITION.search(str(exc))
            where = f"line {match.group(1)}, column {match.group(2)}" if match else "?"
            raise ConfigError([("", f"TOML syntax error at {where}: {exc}")],
                              source=source) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([("", f"YAML syntax error at {where}: {problem}")],
                          source=source) from exc
    return {} if data is None else data


def load_config(path_or_text: str | os.PathLike[str], *, format: Format | None = None,
                sections: SectionTypes | None = None) -> Config:
    """Load a :class:`Config` from a TOML, YAML or DIRAC ``.cfg`` file, or from text.

    ``sections`` adds plugin section types (default: built-ins and entry
    points). Raises :class:`ConfigError` naming the file and every problem.
    """
    text, source, fmt = read_source(path_or_text, format)
    if fmt == "cfg":
        return load_dirac_cfg(text, sections=sections, source=source)
    data = parse_text(text, fmt, source)
    if not isinstance(data, dict):
        raise ConfigError([("", f"the top level must be a table, got {type(data).__name__}")],
                          source=source)
    return structure_config(data, make_converter(sections), source=source)


def dump_config(cfg: Config, *, format: Literal["toml", "yaml"] = "toml",
                sections: SectionTypes | None = None) -> str:
    """``cfg`` as TOML (default) or YAML text that :func:`load_config` reads back equal.

    Fields left at their default are not written.
    """
    data = unstructure_config(cfg, make_converter(sections))
    if format == "yaml":
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return dumps_toml(data)

"""The one cattrs converter that turns plain data (TOML, YAML, dicts) into config objects.

:func:`make_converter` builds it: unknown keys are errors, scalars are strict
(``"12"`` is not an int, ``1`` is not a bool), plugin sections are structured
by their ``type`` through :class:`SectionTypes`, a table keyed by name fills
its items' ``name`` from the key, and per-VO operations are merged over the
defaults. :func:`structure_config` turns every failure into ONE
:class:`ConfigError` listing every wrong key path, such as
``resources.sites.LCG.LCG.CERN.ch.ces[0].queues.long.max_cpu_time: expected int, got 'abc'``.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Callable, Mapping
from enum import Enum, StrEnum
from typing import Any

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)

from dirac_core.config._validators import OptionValue
from dirac_core.config.model import Config
from dirac_core.config.operations import Operations, VOPolicy
from dirac_core.config.sections import KIND_BASES, SectionTypes
from dirac_core.errors import ConfigError

__all__ = ["make_converter", "structure_config", "unstructure_config"]

Hook = Callable[[Any, Any], Any]


class _Invalid(ValueError):
    """A value is wrong; the message is shown as is, ``subpath`` is appended to the key path."""

    def __init__(self, why: str, subpath: str = "") -> None:
        super().__init__(why)
        self.why = why
        self.subpath = subpath


def _got(value: Any) -> str:
    return f"got {value!r}" if isinstance(value, (str, int, float, bool)) or value is None \
        else f"got a {_kind(value)}"


def _kind(value: Any) -> str:
    if isinstance(value, Mapping):
        return "table"
    if isinstance(value, (list, tuple)):
        return "list"
    return type(value).__name__


def _note(exc: Exception, note: str) -> Exception:
    exc.__notes__ = [*getattr(exc, "__notes__", []), note]
    return exc


# --- scalars and enums --------------------------------------------------------


def _strict(kind: type, accept: tuple[type, ...], reject: tuple[type, ...] = ()) -> Hook:
    def structure(value: Any, _: Any) -> Any:
        if isinstance(value, accept) and not isinstance(value, reject):
            return kind(value)
        raise _Invalid(f"expected {kind.__name__}, {_got(value)}")
    return structure


def _enum_hook(enum: type[Enum]) -> Hook:
    def structure(value: Any, _: Any) -> Any:
        try:
            return enum(value)
        except ValueError:
            known = ", ".join(str(m.value) for m in enum)
            raise _Invalid(f"expected one of {known}; {_got(value)}") from None
    return structure


def _structure_option(value: Any, _: Any) -> OptionValue:
    if isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(x, str) for x in value):
        return tuple(value)
    raise _Invalid(f"expected a string, number, boolean or list of strings, {_got(value)}")


# --- containers ---------------------------------------------------------------


def _is_collection(t: Any) -> bool:
    origin = typing.get_origin(t) or t
    return origin in (tuple, frozenset, set, list)


def _collection_hook(conv: cattrs.Converter) -> Callable[[Any], Hook]:
    def factory(t: Any) -> Hook:
        origin = typing.get_origin(t) or t
        args = typing.get_args(t)
        fixed = origin is tuple and bool(args) and args[-1] is not Ellipsis
        item_types = list(args) if fixed else [args[0] if args else Any]

        def structure(value: Any, _: Any) -> Any:
            if not isinstance(value, (list, tuple, set, frozenset)):
                raise _Invalid(f"expected a list, {_got(value)}")
            if fixed and len(value) != len(item_types):
                raise _Invalid(f"expected a list of {len(item_types)} items, got {len(value)}")
            out, errors = [], []
            for i, item in enumerate(value):
                item_type = item_types[i] if fixed else item_types[0]
                try:
                    out.append(item if item_type is Any else conv.structure(item, item_type))
                except Exception as exc:
                    errors.append(_note(exc, IterableValidationNote(f"item {i}", i, item_type)))
            if errors:
                raise IterableValidationError("invalid list", errors, t)
            return origin(out)
        return structure
    return factory


def _named_value(t: Any) -> bool:
    """True when ``t``'s items are attrs classes with a ``name`` field (filled from the key)."""
    if typing.get_origin(t) is not dict:
        return False
    value_type = typing.get_args(t)[1]
    return attrs.has(value_type) and "name" in attrs.fields_dict(value_type)


def _mapping_hook(conv: cattrs.Converter) -> Callable[[Any], Hook]:
    def factory(t: Any) -> Hook:
        key_type, value_type = typing.get_args(t) or (str, Any)
        named = _named_value(t)

        def structure(value: Any, _: Any) -> Any:
            if not isinstance(value, Mapping):
                raise _Invalid(f"expected a table, {_got(value)}")
            out, errors = {}, []
            for raw_key, raw in value.items():
                try:
                    key = conv.structure(raw_key, key_type)
                    if named and isinstance(raw, Mapping):
                        if raw.get("name", key) != key:
                            raise _Invalid(f"{raw['name']!r} differs from its key", "name")
                        raw = {**raw, "name": key}  # noqa: PLW2901 - filled from the key
                    out[key] = conv.structure(raw, value_type)
                except Exception as exc:
                    errors.append(_note(exc, IterableValidationNote(f"key {raw_key!r}", raw_key,
                                                                    value_type)))
            if errors:
                raise IterableValidationError("invalid table", errors, t)
            return out
        return structure
    return factory


def _attrs_hook(conv: cattrs.Converter) -> Callable[[Any], Hook]:
    def factory(cls: Any) -> Hook:
        inner = conv.gen_structure_attrs_fromdict(cls)

        def structure(value: Any, _: Any) -> Any:
            if not isinstance(value, Mapping):
                raise _Invalid(f"expected a table, {_got(value)}")
            return inner(value, cls)
        return structure
    return factory


# --- plugin sections and operations -----------------------------------------------


def _section_hook(conv: cattrs.Converter, sections: SectionTypes, kind: str) -> Hook:
    def structure(value: Any, _: Any) -> Any:
        if not isinstance(value, Mapping):
            raise _Invalid(f"expected a table, {_got(value)}")
        known = ", ".join(sections.known(kind)) or "none"
        if "type" not in value:
            raise _Invalid(f"required field missing (one of: {known})", "type")
        cls = sections.get(kind, value["type"]) if isinstance(value["type"], str) else None
        if cls is None:
            raise _Invalid(f"unknown {kind} type {value['type']!r}; known types: {known}",
                           "type")
        return conv.structure(value, cls)
    return structure


def _operations_hook(conv: cattrs.Converter) -> Hook:
    def structure(value: Any, _: Any) -> Operations:
        if not isinstance(value, Mapping):
            raise _Invalid(f"expected a table, {_got(value)}")
        errors: list[Exception] = []
        extra = set(value) - {"defaults", "vos"}
        if extra:
            errors.append(ForbiddenExtraKeysError("", Operations, extra))
        raw_defaults = value.get("defaults", {})
        defaults = VOPolicy()
        try:
            defaults = conv.structure(raw_defaults, VOPolicy)
        except Exception as exc:
            errors.append(_note(exc, AttributeValidationNote("defaults", "defaults", VOPolicy)))
        vos: dict[str, VOPolicy] = {}
        raw_vos = value.get("vos", {})
        if not errors:
            # a VO's key replaces the default's key as a whole (no deep merge)
            merged = raw_vos
            if isinstance(raw_vos, Mapping):
                merged = {vo: {**raw_defaults, **raw} if isinstance(raw, Mapping) else raw
                          for vo, raw in raw_vos.items()}
            try:
                vos = conv.structure(merged, dict[str, VOPolicy])
            except Exception as exc:
                errors.append(_note(exc, AttributeValidationNote("vos", "vos", dict)))
        if errors:
            raise ClassValidationError("invalid operations", errors, Operations)
        return Operations(defaults=defaults, vos=vos)
    return structure


def _unstructure_operations(conv: cattrs.Converter) -> Callable[[Operations], dict[str, Any]]:
    fields = attrs.fields(attrs.resolve_types(VOPolicy))

    def unstructure(ops: Operations) -> dict[str, Any]:
        vos = {vo: {f.name: conv.unstructure(getattr(policy, f.name), f.type)
                    for f in fields if getattr(policy, f.name) != getattr(ops.defaults, f.name)}
               for vo, policy in ops.vos.items()}
        return {"defaults": conv.unstructure(ops.defaults, VOPolicy), "vos": vos}
    return unstructure


def _unstructure_collection(conv: cattrs.Converter) -> Callable[[Any], Callable[[Any], Any]]:
    def factory(t: Any) -> Callable[[Any], Any]:
        origin = typing.get_origin(t) or t
        args = typing.get_args(t)
        homogeneous = not args or args[-1] is Ellipsis or origin is not tuple

        def item_type(i: int) -> Any:
            if not args:
                return None
            return args[0] if homogeneous else args[i]

        def unstructure(items: Any) -> list[Any]:
            out = [conv.unstructure(x, item_type(i)) for i, x in enumerate(items)]
            # sets have no order: sort them so that dumps are stable
            return sorted(out) if origin in (frozenset, set) else out
        return unstructure
    return factory


def _is_dict(t: Any) -> bool:
    return typing.get_origin(t) is dict


def _is_exactly(cls: type) -> Callable[[Any], bool]:
    # not issubclass: the hook structures a base class by delegating to a subclass
    return lambda t: t is cls


def _unstructure_section(conv: cattrs.Converter) -> Callable[[Any], dict[str, Any]]:
    # ``type`` has a default in every section class, so omit_if_default would drop it
    return lambda obj: {"type": obj.type, **conv.unstructure(obj, obj.__class__)}


# --- the converter --------------------------------------------------------------


def make_converter(sections: SectionTypes | None = None) -> cattrs.Converter:
    """Build the converter for :class:`~dirac_core.config.Config` and its parts.

    ``sections`` chooses the plugin section classes (default:
    :meth:`SectionTypes.default`, the built-ins plus entry points). Structure
    errors are cattrs exceptions; use :func:`structure_config` to get a
    :class:`ConfigError`. Unstructuring gives TOML/YAML-ready data: lists
    instead of tuples and sets, enum values, no ``name`` inside a table keyed
    by name, no field left at its default.
    """
    sections = sections if sections is not None else SectionTypes.default()
    conv = cattrs.Converter(forbid_extra_keys=True, omit_if_default=True,
                            detailed_validation=True)
    conv.register_structure_hook(str, _strict(str, (str,)))
    conv.register_structure_hook(int, _strict(int, (int,), (bool,)))
    conv.register_structure_hook(float, _strict(float, (int, float), (bool,)))
    conv.register_structure_hook(bool, _strict(bool, (bool,)))
    conv.register_structure_hook_func(lambda t: t == OptionValue, _structure_option)
    # singledispatch would pick the str hook for a StrEnum: register enums explicitly
    for enum_base in (Enum, StrEnum):
        conv.register_structure_hook(enum_base, lambda v, t: _enum_hook(t)(v, t))
    conv.register_structure_hook_factory(attrs.has, _attrs_hook(conv))
    conv.register_structure_hook_factory(_is_collection, _collection_hook(conv))
    conv.register_structure_hook_factory(_is_dict, _mapping_hook(conv))
    for kind, base in KIND_BASES.items():
        conv.register_structure_hook_func(_is_exactly(base), _section_hook(conv, sections, kind))
        conv.register_unstructure_hook_func(_is_exactly(base), _unstructure_section(conv))
    conv.register_structure_hook(Operations, _operations_hook(conv))
    conv.register_unstructure_hook(Operations, _unstructure_operations(conv))

    def unstructure_named(t: Any) -> Callable[[dict[str, Any]], dict[str, Any]]:
        value_type = typing.get_args(t)[1]
        return lambda d: {k: {n: x for n, x in conv.unstructure(item, value_type).items()
                              if n != "name"} for k, item in d.items()}

    conv.register_unstructure_hook_factory(_named_value, unstructure_named)
    conv.register_unstructure_hook_factory(_is_collection, _unstructure_collection(conv))
    for enum_base in (Enum, StrEnum):
        conv.register_unstructure_hook(enum_base, lambda e: e.value)
    return conv


# --- errors -----------------------------------------------------------------


_ATTRS_MSG = re.compile(r"^'([A-Za-z_]\w*)' (must .*)$", re.DOTALL)


def _join(path: str, part: str) -> str:
    if not part:
        return path
    if part.startswith("["):
        return path + part
    return f"{path}.{part}" if path else part


def _describe(exc: BaseException, path: str) -> list[tuple[str, str]]:
    if isinstance(exc, ConfigError):
        return [(_join(path, p), why) for p, why in exc.problems]
    if isinstance(exc, _Invalid):
        return [(_join(path, exc.subpath), exc.why)]
    if isinstance(exc, ForbiddenExtraKeysError):
        allowed = ", ".join(sorted(f.name for f in attrs.fields(exc.cl))) \
            if attrs.has(exc.cl) else "defaults, vos"
        return [(_join(path, key), f"unknown key (allowed: {allowed})")
                for key in sorted(exc.extra_fields)]
    if isinstance(exc, KeyError):
        return [(path, "required field missing")]
    if isinstance(exc, (ValueError, TypeError)) and exc.args:
        match = _ATTRS_MSG.match(str(exc.args[0]))
        if match:  # an attrs validator: name the field, keep its explanation
            return [(_join(path, match.group(1)), match.group(2))]
    return [(path, f"{type(exc).__name__}: {exc}")]


def collect_problems(exc: BaseException, path: str = "") -> list[tuple[str, str]]:
    """Every ``(key_path, why)`` in a cattrs error tree; dict keys join with ``.``, indexes ``[i]``."""
    if isinstance(exc, (ClassValidationError, IterableValidationError)):
        problems: list[tuple[str, str]] = []
        with_notes, without = exc.group_exceptions()
        for sub, note in with_notes:
            if isinstance(note, AttributeValidationNote):
                part = note.name
            elif isinstance(note.index, int):
                part = f"[{note.index}]"
            else:
                part = str(note.index)
            problems.extend(collect_problems(sub, _join(path, part)))
        for sub in without:
            problems.extend(collect_problems(sub, path))
        return problems
    return _describe(exc, path)


def structure_config(data: Any, converter: cattrs.Converter | None = None,
                     source: str | None = None) -> Config:
    """Structure plain ``data`` into a :class:`Config`.

    Raises :class:`ConfigError` naming ``source`` and every wrong key path.
    """
    conv = converter if converter is not None else make_converter()
    try:
        config: Config = conv.structure(data, Config)
    except Exception as exc:
        raise ConfigError(collect_problems(exc), source=source) from exc
    return config


def unstructure_config(cfg: Config, converter: cattrs.Converter | None = None) -> dict[str, Any]:
    """``cfg`` as plain data (dicts, lists, strings, numbers, booleans), ready to dump."""
    conv = converter if converter is not None else make_converter()
    return conv.unstructure(cfg, Config)  # type: ignore[no-any-return]

"""Searchable metadata: declared fields and their typed values on directories and files.

A field is declared once, for directories or for files, with a type
(``int``, ``float``, ``string``, ``date``); its values go to the table of
that type, keyed by ``(field_id, item_id)`` (a directory id or a file id).

Directory values are inherited by the whole subtree. To keep inheritance
unambiguous, a directory may not set a field that one of its ancestors or
descendants sets already ("Metadata conflict detected"; DIRAC checks the
ancestors, and the descendants here too, so that a subtree never holds two
values of one field). A file's metadata is its own values plus its
directory's (inherited) ones.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs
from sqlalchemy import Connection, Table, delete, insert, select

from dirac_core.db.bulk import bulk_insert
from dirac_core.db.tables.catalog import (
    dir_closure,
    meta_date,
    meta_fields,
    meta_float,
    meta_int,
    meta_string,
)
from dirac_core.dms.metaquery import (
    STANDARD_FILE_KEYS,
    STANDARD_KEY_ALIASES,
    QueryError,
    canonical_type,
    coerce,
)
from dirac_core.errors import CatalogError, DiracError
from dirac_plugins_catalog.sql.lookups import chunked, member
from dirac_plugins_catalog.sql.paths import ancestors

__all__ = ["VALUE_TABLES", "Field", "Target", "declare_field", "get_values", "load_fields", "remove_values",
           "set_values"]

#: The value table of each field type.
VALUE_TABLES: Mapping[str, Table] = {"int": meta_int, "float": meta_float, "string": meta_string,
                                     "date": meta_date}

_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
_MAX_STRING = 128


@attrs.frozen
class Field:
    """A declared field."""

    field_id: int
    name: str
    type: str
    for_files: bool


@attrs.frozen
class Target:
    """A path metadata is set on: a directory or a file, with its id."""

    path: str
    item_id: int
    is_file: bool


def load_fields(conn: Connection) -> dict[str, Field]:
    """Every declared field, by name."""
    m = meta_fields.c
    return {name: Field(field_id, name, kind, bool(for_files)) for field_id, name, kind, for_files
            in conn.execute(select(m.field_id, m.name, m.type, m.for_files))}


def declare_field(conn: Connection, name: str, type_name: str, *, for_files: bool) -> Field:
    """Declare a field; the same declaration again returns it.

    Raises ``CatalogError`` for a bad name or type, a standard file key, or a
    name declared already with another type or for the other namespace.
    """
    if not isinstance(name, str) or not _FIELD_NAME.fullmatch(name):
        raise CatalogError(f"invalid metadata field name {name!r} (a letter, then letters, digits or _; "
                           "at most 64)", field=name)
    if name in STANDARD_FILE_KEYS or name in STANDARD_KEY_ALIASES:
        raise CatalogError(f"{name!r} is a standard file key and cannot be declared", field=name)
    try:
        kind = canonical_type(type_name)
    except QueryError as exc:
        raise CatalogError(str(exc), field=name) from exc
    old = load_fields(conn).get(name)
    if old is None:
        conn.execute(insert(meta_fields).values(name=name, type=kind, for_files=for_files))
        return load_fields(conn)[name]
    if old.for_files != for_files:
        raise CatalogError(f"The metadata {name} is already defined for "
                           f"{'Files' if old.for_files else 'Directories'}", field=name)
    if old.type != kind:
        raise CatalogError(f"The metadata {name} is already defined with type {old.type}", field=name)
    return old


def _typed(target: Target, values: Mapping[str, Any], fields: Mapping[str, Field]) -> dict[Field, Any]:
    """``values`` checked and converted to their fields' types; ``CatalogError`` for the first bad one."""
    out: dict[Field, Any] = {}
    for name, value in values.items():
        field = fields.get(name)
        if field is None:
            raise CatalogError(f"metadata field {name!r} is not declared", lfn=target.path, field=name)
        if field.for_files != target.is_file:
            kind = "file" if field.for_files else "directory"
            raise CatalogError(f"{name!r} is a {kind} field; {target.path!r} is not a {kind}",
                               lfn=target.path, field=name)
        try:
            typed = coerce(value, field.type, field=name)
        except QueryError as exc:
            raise CatalogError(str(exc), lfn=target.path, field=name) from exc
        if field.type == "string" and len(typed) > _MAX_STRING:
            raise CatalogError(f"value of {name!r} is longer than {_MAX_STRING} characters", lfn=target.path,
                               field=name)
        out[field] = typed
    return out


def _defined_around(conn: Connection, dir_ids: Sequence[int], field_ids: Sequence[int]
                    ) -> dict[int, set[int]]:
    """``{dir_id: {field_id}}``: the fields set on a proper ancestor or descendant of each directory."""
    c = dir_closure.c
    out: dict[int, set[int]] = {}
    for table in VALUE_TABLES.values():
        m = table.c
        for part in chunked(dir_ids):
            up = (select(c.descendant_id, m.field_id)
                  .join_from(dir_closure, table, m.item_id == c.ancestor_id)
                  .where(member(conn, c.descendant_id, part), c.depth > 0, m.field_id.in_(field_ids)))
            down = (select(c.ancestor_id, m.field_id)
                    .join_from(dir_closure, table, m.item_id == c.descendant_id)
                    .where(member(conn, c.ancestor_id, part), c.depth > 0, m.field_id.in_(field_ids)))
            for stmt in (up, down):
                for dir_id, field_id in conn.execute(stmt):
                    out.setdefault(dir_id, set()).add(field_id)
    return out


def set_values(conn: Connection, targets: Sequence[Target], values: Mapping[str, Mapping[str, Any]],
               fields: Mapping[str, Field]) -> dict[str, DiracError]:
    """Set ``values[path]`` on each target (all of a path's values or none); the errors by path."""
    errors: dict[str, DiracError] = {}
    typed: dict[str, dict[Field, Any]] = {}
    for target in targets:
        try:
            typed[target.path] = _typed(target, values[target.path], fields)
        except CatalogError as exc:
            errors[target.path] = exc
    dirs = [t for t in targets if not t.is_file and t.path in typed]
    around = _defined_around(conn, [t.item_id for t in dirs], [f.field_id for v in typed.values() for f in v])
    pending: dict[int, list[str]] = {}  # field id -> directories set earlier in this call
    for target in dirs:
        for field in typed[target.path]:
            clash = field.field_id in around.get(target.item_id, ()) or any(
                other in ancestors(target.path) or other.startswith(target.path + "/")
                for other in pending.get(field.field_id, ()))
            if clash:
                errors[target.path] = CatalogError(
                    f"Metadata conflict detected: {field.name} is set above or below {target.path!r}",
                    lfn=target.path, field=field.name)
                break
        else:
            for field in typed[target.path]:
                pending.setdefault(field.field_id, []).append(target.path)
    rows: dict[str, list[dict[str, Any]]] = {kind: [] for kind in VALUE_TABLES}
    for target in targets:
        if target.path in errors:
            continue
        for field, value in typed[target.path].items():
            rows[field.type].append({"field_id": field.field_id, "item_id": target.item_id, "value": value})
    for kind, batch in rows.items():
        _replace(conn, VALUE_TABLES[kind], batch)
    return errors


def _replace(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    by_field: dict[int, list[int]] = {}
    for row in rows:
        by_field.setdefault(row["field_id"], []).append(row["item_id"])
    for field_id, ids in by_field.items():
        for part in chunked(sorted(set(ids))):
            conn.execute(delete(table).where(table.c.field_id == field_id,
                                             member(conn, table.c.item_id, part)))
    bulk_insert(conn, table, list({(r["field_id"], r["item_id"]): r for r in rows}.values()))


def remove_values(conn: Connection, removals: Mapping[int, Iterable[Field]]) -> None:
    """Remove ``{item_id: fields}`` (absent values: nothing to do)."""
    by_field: dict[Field, list[int]] = {}
    for item_id, fields_ in removals.items():
        for field in fields_:
            by_field.setdefault(field, []).append(item_id)
    for field, ids in by_field.items():
        table = VALUE_TABLES[field.type]
        for part in chunked(sorted(set(ids))):
            conn.execute(delete(table).where(table.c.field_id == field.field_id,
                                             member(conn, table.c.item_id, part)))


def get_values(conn: Connection, *, dirs: Mapping[int, str], file_ids: Mapping[int, int],
               fields: Mapping[str, Field]) -> tuple[dict[int, dict[str, Any]], dict[int, dict[str, Any]]]:
    """``({dir_id: values}, {file_id: values})``: each directory's own and inherited values (the
    nearest wins), and each file's own values (``file_ids`` maps file ids to their directory ids;
    add the directory's yourself)."""
    by_id = {f.field_id: f for f in fields.values()}
    c = dir_closure.c
    dir_values: dict[int, dict[str, Any]] = {d: {} for d in dirs}
    depth_of: dict[tuple[int, str], int] = {}
    file_values: dict[int, dict[str, Any]] = {f: {} for f in file_ids}
    dir_ids = sorted({*dirs, *file_ids.values()})
    for kind, table in VALUE_TABLES.items():
        m = table.c
        # the field ids first: the value tables are keyed by (field_id, item_id)
        dir_fields = [f.field_id for f in fields.values() if f.type == kind and not f.for_files]
        file_fields = [f.field_id for f in fields.values() if f.type == kind and f.for_files]
        for part in chunked(dir_ids) if dir_fields else ():
            stmt = (select(c.descendant_id, c.depth, m.field_id, m.value)
                    .join_from(dir_closure, table, m.item_id == c.ancestor_id)
                    .where(member(conn, c.descendant_id, part), m.field_id.in_(dir_fields)))
            for dir_id, depth, field_id, value in conn.execute(stmt):
                name = by_id[field_id].name
                if depth_of.get((dir_id, name), depth + 1) > depth:
                    depth_of[(dir_id, name)] = depth
                    dir_values.setdefault(dir_id, {})[name] = value
        for part in chunked(sorted(file_ids)) if file_fields else ():
            for file_id, field_id, value in conn.execute(select(m.item_id, m.field_id, m.value).where(
                    m.field_id.in_(file_fields), member(conn, m.item_id, part))):
                file_values[file_id][by_id[field_id].name] = value
    return dir_values, file_values

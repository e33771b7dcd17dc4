"""Metadata queries compiled to SQL.

A query is first normalised by :func:`dirac_core.dms.metaquery.normalize_query`
into :class:`~dirac_core.dms.metaquery.Term` objects, then:

1. the **directory terms** (declared directory fields) and the search path
   select directories, in one statement: the subtree of the path
   (closure rows of its directory) intersected, per term, with the
   descendants of the directories whose value satisfies it (a range of the
   value index, then the closure); ``Missing`` is the complement;
2. the **file terms** (declared file fields and the standard keys) filter
   the files of those directories: a declared field through its value
   table, a standard key on the file's own column (``User``/``Group``
   through the owner tables, ``SE`` through the replicas).

A field that is not set satisfies only ``Missing``; ``!=`` and ``nin`` need a
value that differs (DIRAC's rule); ``SE`` holds for ``!=``/``nin`` when the
file has replicas and none is excluded. Files whose status is not visible
are left out unless the query has a ``Status`` term.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    String,
    and_,
    exists,
    literal,
    not_,
    select,
    true,
    type_coerce,
)

from dirac_core.db.tables.catalog import (
    dir_closure,
    directories,
    files,
    groups,
    replicas,
    storage_elements,
    users,
)
from dirac_core.dms.metaquery import Op, Term, like_to_sql
from dirac_plugins_catalog.sql.files import hidden_lfns
from dirac_plugins_catalog.sql.lookups import chunked, fetch, member
from dirac_plugins_catalog.sql.metadata import VALUE_TABLES, Field

__all__ = ["find_files", "find_sized"]

#: Above this many directories, files are filtered with a subquery rather than bound id lists.
_BOUND_DIRS = 2000


_OPERATORS: Mapping[Op, Callable[[Any, Any], ColumnElement[bool]]] = {
    Op.EQ: operator.eq, Op.NE: operator.ne, Op.LT: operator.lt, Op.LE: operator.le, Op.GT: operator.gt,
    Op.GE: operator.ge,
    Op.IN: lambda column, value: column.in_(list(value)),
    Op.NIN: lambda column, value: column.not_in(list(value)),
    Op.LIKE: lambda column, value: column.like(like_to_sql(value), escape="\\"),
}


def _compare(column: Any, term: Term) -> ColumnElement[bool]:
    """``column <op> value`` for a value operator (not ``any``/``missing``)."""
    return _OPERATORS[term.op](column, term.value)


def _directory_condition(term: Term, field: Field) -> ColumnElement[bool]:
    """A condition on ``dir_closure`` alias ``subtree.descendant_id`` for one directory term."""
    table = VALUE_TABLES[field.type]
    c = dir_closure.alias("holder")
    defined = (select(c.c.descendant_id).join_from(c, table, table.c.item_id == c.c.ancestor_id)
               .where(table.c.field_id == field.field_id))
    target = _SUBTREE.c.descendant_id
    if term.op is Op.MISSING:
        return target.not_in(defined)
    if term.op is Op.ANY:
        return target.in_(defined)
    return target.in_(defined.where(_compare(table.c.value, term)))


def _file_condition(term: Term, field: Field | None) -> ColumnElement[bool]:
    """A condition on ``files`` for one file term (``field`` None: a standard key)."""
    if field is not None:
        table = VALUE_TABLES[field.type]
        defined = select(table.c.item_id).where(table.c.field_id == field.field_id)
        if term.op is Op.MISSING:
            return files.c.file_id.not_in(defined)
        if term.op is not Op.ANY:
            defined = defined.where(_compare(table.c.value, term))
        return files.c.file_id.in_(defined)
    if term.field == "SE":
        return _se_condition(term)
    if term.field in ("User", "Group"):
        return _owner_condition(term)
    column = _STANDARD_COLUMNS[term.field]
    if term.op in (Op.ANY, Op.MISSING):
        return column.is_not(None) if term.op is Op.ANY else column.is_(None)  # type: ignore[no-any-return]
    return _compare(column, term)


def _owner_condition(term: Term) -> ColumnElement[bool]:
    """``User`` and ``Group``: every file has both."""
    f = files.c
    table, key, column = ((users, users.c.user_id, f.owner_id) if term.field == "User"
                          else (groups, groups.c.group_id, f.group_id))
    if term.op in (Op.ANY, Op.MISSING):
        return true() if term.op is Op.ANY else not_(true())
    return column.in_(select(key).where(_compare(table.c.name, term)))


_STANDARD_COLUMNS: Mapping[str, Any] = {
    "Size": files.c.size, "Checksum": files.c.checksum, "GUID": files.c.guid, "Name": files.c.name,
    "Status": type_coerce(files.c.status, String()), "CreationDate": files.c.created,
    "ModificationDate": files.c.modified,
}


def _se_condition(term: Term) -> ColumnElement[bool]:
    r, se = replicas.c, storage_elements.c
    at = exists().where(r.file_id == files.c.file_id)
    if term.op is Op.ANY:
        return at
    if term.op is Op.MISSING:
        return not_(at)
    if term.op in (Op.NE, Op.NIN):
        positive = Term(term.field, Op.EQ if term.op is Op.NE else Op.IN, term.value)
        excluded = select(se.se_id).where(_compare(se.name, positive))
        return and_(at, not_(exists().where(r.file_id == files.c.file_id, r.se_id.in_(excluded))))
    return exists().where(r.file_id == files.c.file_id,
                          r.se_id.in_(select(se.se_id).where(_compare(se.name, term))))


_SUBTREE = dir_closure.alias("subtree")


def _directories(conn: Connection, terms: Sequence[Term], *, root_id: int, fields: Mapping[str, Field]
                 ) -> tuple[dict[int, str], Select[Any]]:
    """The directories under ``root_id`` satisfying every directory term, ``{dir_id: path}``, and
    the statement selecting their ids."""
    dir_terms = [(t, fields[t.field]) for t in terms if t.field in fields and not fields[t.field].for_files]
    d = directories.c
    stmt = (select(d.dir_id, d.path)
            .join_from(_SUBTREE, directories, d.dir_id == _SUBTREE.c.descendant_id)
            .where(_SUBTREE.c.ancestor_id == root_id, *(_directory_condition(t, f) for t, f in dir_terms)))
    return dict(fetch(conn, stmt)), stmt.with_only_columns(d.dir_id)


def _rows(conn: Connection, terms: Sequence[Term], *, root_id: int, fields: Mapping[str, Field],
          sized: bool) -> list[tuple[Any, ...]]:
    """Rows ``(lfn[, size])`` of the matching files, unsorted: the directories first, then their
    files (the database builds the LFNs); hidden files are dropped afterwards, through the status
    index, unless a term is about ``Status``."""
    if not terms:
        return []
    dirs, dir_ids = _directories(conn, terms, root_id=root_id, fields=fields)
    if not dirs:
        return []
    conditions = [_file_condition(t, fields.get(t.field)) for t in terms
                  if t.field not in fields or fields[t.field].for_files]
    f, d = files.c, directories.c
    source = files.join(directories, d.dir_id == f.dir_id)
    extra = (f.size,) if sized else ()
    rows: list[tuple[Any, ...]] = []
    lfn = d.path + literal("/") + f.name
    below = [dir_id for dir_id, path in dirs.items() if path != "/"]
    if len(dirs) <= _BOUND_DIRS:
        for part in chunked(below, 500):
            rows.extend(fetch(conn, select(lfn, *extra).select_from(source)
                              .where(member(conn, f.dir_id, part), *conditions)))
    elif below:
        rows.extend(fetch(conn, select(lfn, *extra).select_from(source)
                          .where(f.dir_id.in_(dir_ids), d.path != "/", *conditions)))
    for dir_id in (i for i, path in dirs.items() if path == "/"):
        rows.extend(fetch(conn, select(literal("/") + f.name, *extra).where(f.dir_id == dir_id, *conditions)))
    if not any(t.field == "Status" for t in terms):
        hidden = set(hidden_lfns(conn, list(dirs)))
        if hidden:
            rows = [row for row in rows if row[0] not in hidden]
    return rows


def find_files(conn: Connection, terms: Sequence[Term], *, root_id: int, fields: Mapping[str, Field]
               ) -> list[str]:
    """The LFNs of the files under directory ``root_id`` satisfying every term, sorted (no terms
    at all: none, DIRAC's rule)."""
    return sorted(map(_FIRST, _rows(conn, terms, root_id=root_id, fields=fields, sized=False)))


def find_sized(conn: Connection, terms: Sequence[Term], *, root_id: int, fields: Mapping[str, Field]
               ) -> list[tuple[str, int]]:
    """:func:`find_files` with each file's size: ``[(lfn, size)]``, sorted."""
    return sorted(_rows(conn, terms, root_id=root_id, fields=fields, sized=True))


_FIRST = itemgetter(0)

"""Tables of the ``catalog`` system: the SQL file catalog (DIRAC File Catalog model).

Design choices, for speed at millions of files:

- **Directories** are rows with their full path, found by ``path_key`` (a
  128-bit hash of the path, unique): one indexed ``IN`` query resolves any
  set of paths and all their ancestors, whose paths are known from the
  string. A path may be 1,024 characters, longer than MariaDB can index, so
  the hash and not the path carries the unique index.
- **Subtrees** come from a closure table (``catalog_dir_closure``: every
  (ancestor, descendant, depth) pair): "everything under /vo/data" and "the
  directories inheriting this metadata" are one indexed join, at any depth,
  where a parent-pointer tree needs one query per level. A directory has at
  most 17 closure rows (the depth limit), and directories are few next to
  files, so the table stays small.
- **Files** are keyed by ``(dir_id, name)`` (unique): a bulk lookup is a few
  index range scans per directory, a listing one range scan, already sorted.
  File and directory ids come in blocks from ``catalog_counters``, so a bulk
  registration inserts files and replicas with set-based inserts and no
  per-row ``RETURNING``.
- **Replicas** are keyed by ``(file_id, se_id)`` (one per SE per file), and
  clustered on it on every backend (InnoDB and PostgreSQL by primary key,
  SQLite ``WITHOUT ROWID``): a file's replicas are one B-tree probe.
- **Usage** (``catalog_usage``) holds per directory and SE (``se_id`` 0:
  logical; -1: files whose status is not visible) the files and bytes of
  the whole subtree, kept up to date by every write. The hidden count lets
  reads skip the status of every file (no status index to maintain).
- **Metadata** values live in one table per type (``int``, ``float``,
  ``string``, ``date``) keyed by ``(field_id, item_id)``, where ``item_id``
  is a directory id or a file id (a field is for one or the other), with an
  index on ``(field_id, value, item_id)``: a condition is one index range.
  DIRAC's table-per-field needs DDL at run time; these do not.
- Statuses are stored as their ``StrEnum`` value; strings that name things
  (paths, file names, SE, user and group names, metadata strings) compare
  case-sensitively on MariaDB too (binary collation).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects import mysql
from sqlalchemy.types import TypeEngine

from dirac_core.db.schema import new_metadata
from dirac_core.db.types import StrEnumType, UTCDateTime
from dirac_core.model.catalog import FileStatus, ReplicaType

__all__ = [
    "ID",
    "counters",
    "dataset_files",
    "datasets",
    "dir_closure",
    "directories",
    "files",
    "groups",
    "meta_date",
    "meta_fields",
    "meta_float",
    "meta_int",
    "meta_string",
    "metadata",
    "name_type",
    "replicas",
    "storage_elements",
    "usage",
    "users",
]

metadata = new_metadata("catalog")

#: A 64-bit id (SQLite: INTEGER, so that a primary key is the rowid).
ID = BigInteger().with_variant(Integer(), "sqlite")


def name_type(length: int) -> TypeEngine[str]:
    """``VARCHAR(length)``, compared byte-wise on MariaDB (elsewhere it already is)."""
    return String(length).with_variant(mysql.VARCHAR(length, collation="utf8mb4_bin"),
                                       "mysql", "mariadb")


#: Named counters (``dir_id``, ``file_id``): the next free value.
counters = Table(
    "catalog_counters",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger(), nullable=False),
)

#: Users and groups owning entries, created on first use.
users = Table(
    "catalog_users",
    metadata,
    Column("user_id", Integer(), primary_key=True, autoincrement=True),
    Column("name", name_type(64), nullable=False, unique=True),
)

groups = Table(
    "catalog_groups",
    metadata,
    Column("group_id", Integer(), primary_key=True, autoincrement=True),
    Column("name", name_type(64), nullable=False, unique=True),
)

#: Storage elements, created on first use; ids start at 1 (0 means "logical" in usage).
storage_elements = Table(
    "catalog_ses",
    metadata,
    Column("se_id", Integer(), primary_key=True, autoincrement=True),
    Column("name", name_type(128), nullable=False, unique=True),
)

directories = Table(
    "catalog_directories",
    metadata,
    Column("dir_id", ID, primary_key=True, autoincrement=False),
    Column("parent_id", ID, nullable=True),  # None for the root
    Column("path", name_type(1024), nullable=False),
    Column("path_key", String(32), nullable=False, unique=True),
    Column("owner_id", Integer(), ForeignKey("catalog_users.user_id"), nullable=False),
    Column("group_id", Integer(), ForeignKey("catalog_groups.group_id"), nullable=False),
    Column("mode", Integer(), nullable=False),
    Column("created", UTCDateTime(), nullable=False),
    Column("modified", UTCDateTime(), nullable=False),
    Index(None, "parent_id"),
)

#: Every (ancestor, descendant) pair of directories, a directory being its own at depth 0.
dir_closure = Table(
    "catalog_dir_closure",
    metadata,
    Column("ancestor_id", ID, primary_key=True, autoincrement=False),
    Column("descendant_id", ID, primary_key=True, autoincrement=False),
    Column("depth", Integer(), nullable=False),
    Index(None, "descendant_id"),
    sqlite_with_rowid=False,
)

files = Table(
    "catalog_files",
    metadata,
    Column("file_id", ID, primary_key=True, autoincrement=False),
    Column("dir_id", ID, ForeignKey("catalog_directories.dir_id"), nullable=False),
    Column("name", name_type(128), nullable=False),
    Column("size", BigInteger(), nullable=False),
    Column("checksum", String(64), nullable=True),  # adler32, 8 hex digits
    Column("guid", String(64), nullable=True),
    Column("owner_id", Integer(), nullable=False),
    Column("group_id", Integer(), nullable=False),
    Column("mode", Integer(), nullable=False),
    Column("status", StrEnumType(FileStatus), nullable=False),
    Column("created", UTCDateTime(), nullable=False),
    Column("modified", UTCDateTime(), nullable=False),
    UniqueConstraint("dir_id", "name"),
    Index(None, "guid"),
)

replicas = Table(
    "catalog_replicas",
    metadata,
    Column("file_id", ID, primary_key=True, autoincrement=False),
    Column("se_id", Integer(), primary_key=True, autoincrement=False),
    Column("status", StrEnumType(FileStatus), nullable=False),
    Column("kind", StrEnumType(ReplicaType), nullable=False),
    sqlite_with_rowid=False,
)

#: Files and bytes under each directory (its whole subtree), per SE; ``se_id`` 0 is the logical count.
usage = Table(
    "catalog_usage",
    metadata,
    Column("dir_id", ID, primary_key=True, autoincrement=False),
    Column("se_id", Integer(), primary_key=True, autoincrement=False),
    Column("files", BigInteger(), nullable=False),
    Column("size", BigInteger(), nullable=False),
    sqlite_with_rowid=False,
)

# -- metadata and datasets (migration 0008) ------------------------------------

#: Declared (searchable) metadata fields: for directories or for files, never both.
meta_fields = Table(
    "catalog_meta_fields",
    metadata,
    Column("field_id", Integer(), primary_key=True, autoincrement=True),
    Column("name", name_type(64), nullable=False, unique=True),
    Column("type", String(8), nullable=False),  # int, float, string, date
    Column("for_files", Boolean(), nullable=False),
)


def _values(name: str, value_type: TypeEngine[Any]) -> Table:
    return Table(
        f"catalog_meta_{name}",
        metadata,
        Column("field_id", Integer(), primary_key=True, autoincrement=False),
        Column("item_id", ID, primary_key=True, autoincrement=False),
        Column("value", value_type, nullable=False),
        Index(None, "field_id", "value", "item_id"),
        sqlite_with_rowid=False,
    )


meta_int = _values("int", BigInteger())
meta_float = _values("float", Double())
meta_string = _values("string", name_type(128))
meta_date = _values("date", UTCDateTime())

#: Named stored queries; ``name`` is the last part of the dataset's path, in directory ``dir_id``.
datasets = Table(
    "catalog_datasets",
    metadata,
    Column("dataset_id", Integer(), primary_key=True, autoincrement=True),
    Column("dir_id", ID, nullable=False),
    Column("name", name_type(128), nullable=False),
    Column("query", Text(), nullable=False),  # JSON
    Column("path", name_type(1024), nullable=False),
    Column("frozen", Boolean(), nullable=False),
    Column("files", BigInteger(), nullable=False),
    Column("size", BigInteger(), nullable=False),
    Column("checksum", String(32), nullable=False),
    Column("owner_id", Integer(), nullable=False),
    Column("group_id", Integer(), nullable=False),
    Column("created", UTCDateTime(), nullable=False),
    Column("modified", UTCDateTime(), nullable=False),
    UniqueConstraint("dir_id", "name"),
)

#: The file list of a frozen dataset, as it was when frozen.
dataset_files = Table(
    "catalog_dataset_files",
    metadata,
    Column("dataset_id", Integer(), ForeignKey("catalog_datasets.dataset_id"), primary_key=True,
           autoincrement=False),
    Column("position", Integer(), primary_key=True, autoincrement=False),
    Column("lfn", name_type(1024), nullable=False),
    sqlite_with_rowid=False,
)

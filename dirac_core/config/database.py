"""Where the interware keeps its state: the database URL and its connection options."""

from __future__ import annotations

import re

import attrs
from attrs import validators as v

__all__ = ["DatabaseSettings", "hide_password"]

_PASSWORD = re.compile(r"(://[^:/@]*:)[^@]*@")


def hide_password(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***``."""
    return _PASSWORD.sub(r"\1***@", url)


@attrs.frozen(kw_only=True)
class DatabaseSettings:
    """The SQLAlchemy URL of the database (default: SQLite in memory).

    ``sqlite:///path``, ``mysql+mysqldb://user@host/db`` or
    ``postgresql+psycopg://user@host/db``; the password never shows in the repr.
    """

    url: str = attrs.field(default="sqlite://", repr=lambda url: repr(hide_password(url)),
                           validator=v.matches_re(r"[a-z][a-z0-9+]*://.*"))
    echo: bool = attrs.field(default=False, validator=v.instance_of(bool))
    pool_size: int | None = attrs.field(default=None,
                                        validator=v.optional(v.and_(v.instance_of(int),
                                                                    v.ge(1))))

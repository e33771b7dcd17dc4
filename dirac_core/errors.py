"""Exceptions raised by dirac-core, and the partial result of bulk calls.

Every error the library raises on purpose derives from :class:`DiracError`.
Plugins translate their backend's exceptions at their boundary
(``raise StorageError(...) from exc``), so callers never need to import a
backend library to catch its errors.

The hierarchy::

    DiracError
    ├── ConfigError                 invalid configuration; lists every bad key path
    ├── PluginError
    │   ├── PluginNotFound          no driver of that name; lists the installed ones
    │   └── PluginUnavailable       the driver's backend library is missing; names the extra
    ├── DatabaseError
    │   └── DatabaseUnavailable     cannot connect; names host and port, never the password
    ├── JDLError                    malformed job description; line and column
    ├── InvalidTransition           a status change the transition table refuses
    ├── NotFound                    an object (job, file, request, ...) does not exist
    ├── AlreadyExists               an object with that key exists already
    ├── PermissionDenied            the caller's identity may not do this
    ├── NotAuthenticated            no valid credential (token, password)
    │   └── InvalidProxy            an X.509 proxy chain fails verification; ``reason`` says why
    ├── CEError                     a computing element or batch system failed
    │   └── CEUnreachable           the CE (or the host of its batch commands) does not answer
    ├── StorageError                a storage element operation failed
    │   └── ChecksumMismatch        the copy's checksum differs from the source's
    ├── CatalogError                a file catalog operation failed
    ├── InvalidRequest              a request (to-do list) misses what its operations need
    ├── InvalidTransformation       a transformation's type, plugin, parameters or query is wrong
    └── MessagingError              the message broker refused a message
        └── BrokerUnavailable       the message broker cannot be reached now; try again later

:class:`BulkResult` carries the outcome of a bulk call: ``ok`` maps each
item that succeeded to its value, ``failed`` maps each item that failed to
its :class:`DiracError`. ``raise_for_failures()`` turns the failures into an
:class:`ExceptionGroup` with one note per item.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Iterator, Mapping
from typing import Any, Generic, TypeVar

__all__ = [
    "AlreadyExists",
    "BrokerUnavailable",
    "BulkFailures",
    "BulkResult",
    "CEError",
    "CEUnreachable",
    "CatalogError",
    "ChecksumMismatch",
    "ConfigError",
    "DatabaseError",
    "DatabaseUnavailable",
    "DiracError",
    "InvalidProxy",
    "InvalidRequest",
    "InvalidTransformation",
    "InvalidTransition",
    "JDLError",
    "MessagingError",
    "NotAuthenticated",
    "NotFound",
    "PermissionDenied",
    "PluginError",
    "PluginNotFound",
    "PluginUnavailable",
    "StorageError",
]


class DiracError(Exception):
    """Root of every error dirac-core raises on purpose.

    ``message`` is the human sentence; the keyword fields passed to the
    constructor are kept in ``fields`` (and as attributes) so that callers and
    the server can report them without parsing the message.
    """

    def __init__(self, message: str, **fields: Any) -> None:
        super().__init__(message)
        self.message = message
        self.fields: dict[str, Any] = dict(fields)
        for key, value in fields.items():
            setattr(self, key, value)

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # keep structured fields across pickling (process pools, pilots)
        return (_rebuild, (type(self), self.message, self.fields))


def _rebuild(cls: type[DiracError], message: str, fields: dict[str, Any]) -> DiracError:
    err = cls.__new__(cls)
    DiracError.__init__(err, message, **fields)
    return err


class ConfigError(DiracError):
    """The configuration is invalid.

    ``problems`` lists one ``(key_path, explanation)`` pair per wrong key, all
    of them at once, e.g. ``("resources.sites.LCG.CERN.ces[0].queues.long.max_cpu_time",
    "expected int, got 'abc'")``.
    """

    def __init__(self, problems: Iterable[tuple[str, str]], source: str | None = None) -> None:
        problem_list = list(problems)
        head = f"invalid configuration{f' in {source}' if source else ''}"
        lines = [f"  {path}: {why}" if path else f"  {why}" for path, why in problem_list]
        super().__init__("\n".join([f"{head} ({len(problem_list)} problem(s)):", *lines]),
                         problems=problem_list, source=source)

    problems: list[tuple[str, str]]
    source: str | None


class PluginError(DiracError):
    """A plugin could not be loaded or used."""


class PluginNotFound(PluginError):
    """No plugin of that name is installed in the group; ``available`` lists those that are."""

    group: str
    name: str
    available: list[str]

    def __init__(self, group: str, name: str, available: Iterable[str]) -> None:
        names = sorted(available)
        listed = ", ".join(names) if names else "none"
        super().__init__(f"no plugin {name!r} in group {group!r}; installed: {listed}",
                         group=group, name=name, available=names)


class PluginUnavailable(PluginError):
    """The plugin is installed but its backend library is missing; ``extra`` names the extra."""

    group: str
    name: str
    extra: str

    def __init__(self, group: str, name: str, extra: str, missing: str) -> None:
        super().__init__(
            f"plugin {name!r} in group {group!r} needs {missing!r}: "
            f"pip install 'dirac-core[{extra}]'",
            group=group, name=name, extra=extra, missing=missing,
        )


class DatabaseError(DiracError):
    """A database operation failed."""


class DatabaseUnavailable(DatabaseError):
    """The database cannot be reached. The message names host and port, never the password."""


class JDLError(DiracError):
    """A job description is malformed; ``line`` and ``column`` locate the problem (1-based)."""


class InvalidTransition(DiracError):
    """The transition table refuses ``current`` -> ``requested``."""


class NotFound(DiracError):
    """The object does not exist."""


class AlreadyExists(DiracError):
    """An object with the same key exists already."""


class PermissionDenied(DiracError):
    """The caller's identity may not perform the action."""


class NotAuthenticated(DiracError):
    """No valid credential: a missing, expired, revoked or forged token, or a wrong password."""


class InvalidProxy(NotAuthenticated):
    """An X.509 certificate chain (proxies, the user's certificate, CAs) failed verification.

    ``reason`` is one of :class:`dirac_core.auth.x509.ProxyProblem`'s values (``expired``,
    ``not_yet_valid``, ``wrong_issuer``, ``bad_signature``, ``path_length``, ``not_a_proxy``,
    ``untrusted_ca``, ...); ``subject`` names the certificate at fault when there is one.
    """


class CEError(DiracError):
    """A computing element, batch system or transport failed."""


class CEUnreachable(CEError):
    """The computing element, or the host its batch commands run on, cannot be reached."""


class StorageError(DiracError):
    """A storage element operation failed."""


class ChecksumMismatch(StorageError):
    """A transferred file's checksum differs from the expected one."""


class CatalogError(DiracError):
    """A file catalog operation failed."""


class InvalidRequest(DiracError):
    """A request is malformed: no name or operations, an unknown operation type, a missing
    attribute its type needs; the message says which operation and file."""


class InvalidTransformation(DiracError):
    """A transformation cannot be created or changed as asked: an unknown type or splitter, a
    splitter parameter out of range, a bad input query; the message names the parameter."""


class MessagingError(DiracError):
    """A message could not be published: the broker refused it (an unknown destination, a
    message too large); sending it again would fail again."""


class BrokerUnavailable(MessagingError):
    """The message broker cannot be reached now (refused, timed out, no receipt): keep the
    message and send it again later. Names host and port, never the password."""


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class BulkFailures(ExceptionGroup[DiracError]):
    """Raised by :meth:`BulkResult.raise_for_failures`; one sub-exception per failed item."""


class BulkResult(Generic[K, V]):
    """The typed partial result of a bulk call.

    ``ok`` maps every item that succeeded to its value and ``failed`` maps
    every item that failed to the error explaining why; an item is in exactly
    one of them.
    """

    __slots__ = ("failed", "ok")

    def __init__(self, ok: Mapping[K, V] | None = None,
                 failed: Mapping[K, DiracError] | None = None) -> None:
        self.ok: dict[K, V] = dict(ok or {})
        self.failed: dict[K, DiracError] = dict(failed or {})
        both = self.ok.keys() & self.failed.keys()
        if both:
            raise ValueError(f"items both ok and failed: {sorted(map(str, both))}")

    def add_ok(self, item: K, value: V) -> None:
        """Record ``item`` as succeeded (it must not have failed already)."""
        if item in self.failed:
            raise ValueError(f"{item!r} already failed")
        self.ok[item] = value

    def add_failed(self, item: K, error: DiracError) -> None:
        """Record ``item`` as failed; a failure overrides an earlier success."""
        self.ok.pop(item, None)
        self.failed[item] = error

    @property
    def all_ok(self) -> bool:
        """True when no item failed."""
        return not self.failed

    def __len__(self) -> int:
        return len(self.ok) + len(self.failed)

    def __iter__(self) -> Iterator[K]:
        yield from self.ok
        yield from self.failed

    def __repr__(self) -> str:
        return f"BulkResult(ok={len(self.ok)}, failed={len(self.failed)})"

    def raise_for_failures(self, message: str = "bulk operation") -> None:
        """Raise :class:`BulkFailures` (an ``ExceptionGroup``) if any item failed.

        Each sub-exception gets a note naming its item, so a traceback shows
        which item failed for what reason.
        """
        if not self.failed:
            return
        errors = []
        for item, error in self.failed.items():
            note = f"item: {item!r}"
            if note not in getattr(error, "__notes__", ()):
                error.add_note(note)
            errors.append(error)
        raise BulkFailures(f"{message}: {len(errors)} of {len(self)} item(s) failed", errors)

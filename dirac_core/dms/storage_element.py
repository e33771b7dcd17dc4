"""The storage element facade: one named SE over its protocol drivers, obeying its access statuses.

A :class:`StorageElement` hands each protocol driver the LFN as its path (the
driver, built from its section, keeps it under the section's base ``path``),
picks the protocols allowed for an operation (a section's ``read``/``write``
flags; ``local`` sections only on the SE's own site), tries them in order and
verifies the adler32 of every transfer.
Each kind of access (read, write, check, remove) has a status: Active and
Degraded allow it, Probing and Banned refuse it with :class:`SEUnavailable`
before any I/O. The statuses come from the configuration until the resource
status system provides them (``status`` callable).

:meth:`StorageElement.copy_from` has a protocol of this SE that is a
:class:`~dirac_core.plugins.storage.ThirdPartyCopy` copy a file from one of
another SE's URLs (:meth:`StorageElement.urls`) without passing it through
this process.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any

from dirac_core.checksums import adler32_file
from dirac_core.config.resources import AccessStatus, Medium
from dirac_core.config.resources import StorageElement as SEConfig
from dirac_core.config.sections import ProtocolAccess, ProtocolSection
from dirac_core.errors import ChecksumMismatch, NotFound, StorageError
from dirac_core.model.lfn import normalize_lfn
from dirac_core.plugins.groups import PluginGroup
from dirac_core.plugins.loading import load_driver
from dirac_core.plugins.storage import (
    FileStat,
    Occupancy,
    SpaceReporting,
    Stageable,
    StorageProtocol,
    ThirdPartyCopy,
)

__all__ = ["Access", "SEUnavailable", "StorageElement", "StorageElements", "build_protocol"]

log = logging.getLogger(__name__)


class Access(StrEnum):
    """The kinds of access an SE grants separately (DIRAC's ReadAccess, WriteAccess, ...)."""

    READ = "read"
    WRITE = "write"
    CHECK = "check"
    REMOVE = "remove"


class SEUnavailable(StorageError):
    """The SE refuses this kind of access now (Probing or Banned)."""


_USABLE = (AccessStatus.ACTIVE, AccessStatus.DEGRADED)


def build_protocol(section: ProtocolSection, se_name: str) -> StorageProtocol:
    """The driver of one protocol section (entry points ``dirac.storage_protocols``)."""
    driver = load_driver(PluginGroup.STORAGE_PROTOCOLS, section.type)
    from_section = getattr(driver, "from_section", None)
    built: StorageProtocol = from_section(section) if from_section is not None else driver(se_name)
    return built


class StorageElement:
    """A storage element as the data manager uses it."""

    def __init__(self, config: SEConfig, protocols: Sequence[tuple[ProtocolSection, StorageProtocol]], *,
                 site: str | None = None, local_site: str | None = None,
                 status: Callable[[str, Access], AccessStatus] | None = None) -> None:
        self.config = config
        self.name = config.name
        self.site = site
        self.local_site = local_site
        self._protocols = list(protocols)
        self._status = status

    @classmethod
    def from_config(cls, config: SEConfig, *, site: str | None = None, local_site: str | None = None,
                    status: Callable[[str, Access], AccessStatus] | None = None) -> StorageElement:
        """Build every protocol driver of the section (``PluginUnavailable`` for a missing extra)."""
        return cls(config, [(p, build_protocol(p, config.name)) for p in config.protocols],
                   site=site, local_site=local_site, status=status)

    # -- what it is and what it allows -------------------------------------------------

    @property
    def is_tape(self) -> bool:
        """Whether files live on tape (reads may need staging)."""
        return self.config.medium is Medium.TAPE

    def status(self, access: Access) -> AccessStatus:
        """The current status of one kind of access."""
        if self._status is not None:
            return self._status(self.name, access)
        return AccessStatus(getattr(self.config, f"{access.value}_access"))

    def allows(self, access: Access) -> bool:
        """Active and Degraded allow; Probing and Banned do not."""
        return self.status(access) in _USABLE

    def _check(self, access: Access) -> None:
        if not self.allows(access):
            raise SEUnavailable(f"storage element {self.name} is {self.status(access)} for {access}",
                                se=self.name, access=str(access))

    def _usable(self, access: Access) -> list[tuple[ProtocolSection, StorageProtocol]]:
        wanted = "write" if access in (Access.WRITE, Access.REMOVE) else "read"
        on_site = self.local_site is not None and self.local_site == self.site
        found = [(s, p) for s, p in self._protocols if getattr(s, wanted)
                 and (s.access is ProtocolAccess.REMOTE or on_site)]
        if not found:
            raise StorageError(f"storage element {self.name} has no protocol for {access}", se=self.name)
        return found

    # -- paths ------------------------------------------------------------------

    @staticmethod
    def _path(section: ProtocolSection, lfn: str) -> str:
        """The path a driver is given: the LFN itself (each driver built from its section puts it
        under the section's base ``path``)."""
        return normalize_lfn(lfn)

    def url(self, lfn: str, access: Access = Access.READ) -> str:
        """The URL of ``lfn`` in the first protocol allowed for ``access``."""
        section, protocol = self._usable(access)[0]
        return protocol.url(self._path(section, lfn))

    def urls(self, lfn: str, access: Access = Access.READ) -> list[str]:
        """The URLs of ``lfn`` in every protocol allowed for ``access``, in preference order."""
        return [protocol.url(self._path(section, lfn)) for section, protocol in self._usable(access)]

    # -- operations --------------------------------------------------------------

    def _each(self, access: Access, lfn: str, action: Callable[[StorageProtocol, str], Any]) -> Any:
        """``action`` through each usable protocol until one succeeds; NotFound and checksum
        mismatches are answers, not reasons to try another protocol."""
        self._check(access)
        errors = []
        for section, protocol in self._usable(access):
            try:
                return action(protocol, self._path(section, lfn))
            except (NotFound, ChecksumMismatch):
                raise
            except StorageError as exc:
                log.warning("%s via %s failed: %s", self.name, section.type, exc)
                errors.append(f"{section.type}: {exc}")
        raise StorageError(f"storage element {self.name}: every protocol failed for {lfn}: "
                           + "; ".join(errors), se=self.name, lfn=lfn)

    def put(self, source: Path, lfn: str, *, checksum: str | None = None) -> FileStat:
        """Store a local file as ``lfn``; its adler32 (``checksum``, or computed) is verified."""
        expected = (checksum or adler32_file(source)).lower()

        def put(protocol: StorageProtocol, path: str) -> FileStat:
            stat = protocol.put(source, path)
            if stat.checksum is not None and stat.checksum.lower() != expected:
                protocol.remove(path)
                raise ChecksumMismatch(f"{self.name}: {lfn} stored with adler32 {stat.checksum}, "
                                       f"expected {expected}; the copy was removed", lfn=lfn, se=self.name)
            return FileStat(size=stat.size, checksum=expected)

        result: FileStat = self._each(Access.WRITE, lfn, put)
        return result

    def can_copy_from(self, source_urls: Sequence[str]) -> bool:
        """Whether a write protocol of this SE can copy from one of ``source_urls`` (no I/O)."""
        return bool(self._copy_pairs(source_urls))

    def _copy_pairs(self, source_urls: Sequence[str]) -> list[tuple[ProtocolSection, StorageProtocol,
                                                                      ThirdPartyCopy, str]]:
        """Each write protocol that can copy (as a driver, and as a copier) with a source URL it can
        copy from, in preference order."""
        if not self.allows(Access.WRITE):
            return []
        try:
            writers = self._usable(Access.WRITE)
        except StorageError:  # no protocol writes here: nothing can copy either
            return []
        return [(section, protocol, protocol, url) for section, protocol in writers
                if isinstance(protocol, ThirdPartyCopy) for url in source_urls if protocol.can_copy_from(url)]

    def copy_from(self, source_urls: Sequence[str], lfn: str) -> tuple[str, FileStat]:
        """Have this SE copy ``lfn`` from the first of ``source_urls`` one of its protocols can copy from.

        Each (protocol, URL) pair that can copy is tried in turn until one succeeds; returns the
        source URL used and what the protocol says of the copy (its size, and its adler32 when the
        storage can tell). Raises :class:`SEUnavailable` when writing is not allowed,
        :class:`NotFound` or :class:`ChecksumMismatch` as soon as a copy answers so, and
        :class:`StorageError` when no protocol can copy from these URLs or every copy failed.
        """
        self._check(Access.WRITE)
        errors = []
        for section, protocol, copier, url in self._copy_pairs(source_urls):
            path = self._path(section, lfn)
            if url == protocol.url(path):  # two SEs on one place: the old copy cleared would be the source
                errors.append(f"{section.type} from {url}: the source is the target itself")
                continue
            try:
                return url, copier.copy_from(url, path)
            except (NotFound, ChecksumMismatch):
                raise
            except StorageError as exc:
                log.info("%s: copy from %s via %s failed: %s", self.name, url, section.type, exc)
                errors.append(f"{section.type} from {url}: {exc}")
        if not errors:
            raise StorageError(f"storage element {self.name} has no protocol that can copy from "
                               + ", ".join(source_urls), se=self.name, lfn=lfn)
        raise StorageError(f"storage element {self.name}: every third-party copy of {lfn} failed: "
                           + "; ".join(errors), se=self.name, lfn=lfn)

    def get(self, lfn: str, destination: Path, *, checksum: str | None = None) -> FileStat:
        """Fetch ``lfn`` into ``destination``; with ``checksum`` the copy must match it (else it is
        deleted and :class:`ChecksumMismatch` raised)."""
        def get(protocol: StorageProtocol, path: str) -> FileStat:
            stat = protocol.get(path, destination)
            if checksum is not None:
                found = adler32_file(destination)
                if found.lower() != checksum.lower():
                    destination.unlink(missing_ok=True)
                    raise ChecksumMismatch(f"{self.name}: {lfn} read with adler32 {found}, the catalog "
                                           f"says {checksum}", lfn=lfn, se=self.name)
            return stat

        result: FileStat = self._each(Access.READ, lfn, get)
        return result

    def stat(self, lfn: str) -> FileStat:
        """Size and checksum of ``lfn`` on this SE; ``NotFound`` when absent."""
        result: FileStat = self._each(Access.CHECK, lfn, lambda p, path: p.stat(path))
        return result

    def exists(self, lfn: str) -> bool:
        """Whether ``lfn`` is on this SE."""
        try:
            self.stat(lfn)
        except NotFound:
            return False
        return True

    def _stageable(self) -> tuple[ProtocolSection, Stageable]:
        for section, protocol in self._usable(Access.READ):
            if isinstance(protocol, Stageable):
                return section, protocol
        raise StorageError(f"storage element {self.name} has no protocol that can stage files",
                           se=self.name)

    def is_online(self, lfn: str) -> bool:
        """Whether ``lfn`` can be read now; on a disk SE always (if it exists)."""
        if not self.is_tape:
            self.stat(lfn)
            return True
        self._check(Access.CHECK)
        section, protocol = self._stageable()
        return protocol.is_online(self._path(section, lfn))

    def prepare(self, lfns: Sequence[str]) -> None:
        """Ask the SE to bring ``lfns`` online (``StorageError`` when it cannot stage)."""
        self._check(Access.READ)
        section, protocol = self._stageable()
        protocol.prepare([self._path(section, lfn) for lfn in lfns])

    def remove(self, lfn: str) -> None:
        """Delete ``lfn`` from this SE (absent counts as removed)."""
        self._each(Access.REMOVE, lfn, lambda p, path: p.remove(path))

    def occupancy(self) -> Occupancy | None:
        """Free (and total) bytes, from the first write protocol that can tell; ``None`` when none
        can (or every one failed: logged). An SE not allowing writes has no room: free is 0."""
        if not self.allows(Access.WRITE):
            return Occupancy(free=0)
        try:
            usable = self._usable(Access.WRITE)
        except StorageError:
            return None
        for section, protocol in usable:
            if isinstance(protocol, SpaceReporting):
                try:
                    return protocol.occupancy()
                except StorageError as exc:
                    log.warning("%s: free space via %s unknown: %s", self.name, section.type, exc)
        return None

    def close(self) -> None:
        """Close every protocol driver."""
        for _, protocol in self._protocols:
            protocol.close()


class StorageElements:
    """Every configured SE by name, built on first use (with the site each belongs to)."""

    def __init__(self, config: Any, *, local_site: str | None = None,
                 status: Callable[[str, Access], AccessStatus] | None = None) -> None:
        self._config = config
        self.local_site = local_site
        self._status = status
        self._built: dict[str, StorageElement] = {}
        self._lock = threading.Lock()  # threads (the request executor's) must share one SE object
        self._site_of = {se: site.name for site in config.resources.all_sites() for se in site.ses}

    def names(self) -> list[str]:
        """The configured SE names, sorted."""
        return sorted(self._config.resources.storage_elements)

    def site_of(self, name: str) -> str | None:
        """The site that lists the SE among its own, if any."""
        return self._site_of.get(name)

    def __getitem__(self, name: str) -> StorageElement:
        se = self._built.get(name)
        if se is not None:
            return se
        section = self._config.resources.storage_elements.get(name)
        if section is None:
            raise NotFound(f"no storage element {name!r}; configured: {', '.join(self.names())}", se=name)
        with self._lock:
            se = self._built.get(name)
            if se is None:
                se = self._built[name] = StorageElement.from_config(
                    section, site=self._site_of.get(name), local_site=self.local_site, status=self._status)
        return se

    def free_space(self, names: Sequence[str] | None = None) -> dict[str, int]:
        """Free bytes of the SEs ``names`` (default: every configured SE) that can tell."""
        free = {}
        for name in self.names() if names is None else names:
            occupancy = self[name].occupancy()
            if occupancy is not None:
                free[name] = occupancy.free
        return free

    def close(self) -> None:
        """Close every SE built so far."""
        for se in self._built.values():
            se.close()
        self._built.clear()

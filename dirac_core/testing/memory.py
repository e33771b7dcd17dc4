"""In-memory drivers: a CE, a storage protocol and a catalog that keep everything in dicts.

(The catalog lives in :mod:`dirac_core.testing.memory_catalog`; it is re-exported here.)

They implement the real contracts completely, pass the conformance suites,
and are registered under the name ``memory`` so a configuration can select
them: useful for unit tests of the logic around plugins and for notebooks.
They are not a substitute for integration tests against the real thing.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from dirac_core.checksums import adler32_bytes
from dirac_core.errors import BulkResult, NotFound, StorageError
from dirac_core.model.pilot import PILOT_TRANSITIONS, PilotStatus
from dirac_core.model.status import check_transition
from dirac_core.plugins.computing import CEStatus, ComputingElement
from dirac_core.plugins.storage import FileStat, StorageProtocol
from dirac_core.testing.memory_catalog import MemoryCatalog

__all__ = ["MemoryCatalog", "MemoryComputingElement", "MemoryStorage"]


class MemoryComputingElement(ComputingElement):
    """Pilots that run nowhere; tests move them with :meth:`set_status`."""

    def __init__(self, name: str = "memory-ce") -> None:
        self.name = name
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self.pilots: dict[str, PilotStatus] = {}
        self.scripts: dict[str, str] = {}

    def submit(self, executable: str, stamps: Sequence[str]) -> BulkResult[str, str]:
        result: BulkResult[str, str] = BulkResult()
        with self._lock:
            for stamp in stamps:
                ref = f"memory://{self.name}/{next(self._counter)}"
                self.pilots[ref] = PilotStatus.SUBMITTED
                self.scripts[ref] = executable
                result.add_ok(stamp, ref)
        return result

    def set_status(self, reference: str, status: PilotStatus) -> None:
        """Move a pilot as a real CE would (the transition table applies)."""
        with self._lock:
            current = self._get(reference)
            self.pilots[reference] = check_transition(PILOT_TRANSITIONS, current, status, subject=reference)

    def _get(self, reference: str) -> PilotStatus:
        try:
            return self.pilots[reference]
        except KeyError:
            raise NotFound(f"no pilot {reference!r} on {self.name}", reference=reference) from None

    def status(self, references: Sequence[str]) -> BulkResult[str, PilotStatus]:
        result: BulkResult[str, PilotStatus] = BulkResult()
        with self._lock:
            for ref in references:
                try:
                    result.add_ok(ref, self._get(ref))
                except NotFound as exc:
                    result.add_failed(ref, exc)
        return result

    def kill(self, references: Sequence[str]) -> BulkResult[str, None]:
        result: BulkResult[str, None] = BulkResult()
        with self._lock:
            for ref in references:
                try:
                    if not self._get(ref).is_final:
                        self.pilots[ref] = PilotStatus.ABORTED
                    result.add_ok(ref, None)
                except NotFound as exc:
                    result.add_failed(ref, exc)
        return result

    def output(self, reference: str) -> tuple[str, str]:
        with self._lock:
            status = self._get(reference)
        return (f"pilot {reference} is {status}\n", "")

    def ce_status(self) -> CEStatus:
        with self._lock:
            values = list(self.pilots.values())
        return CEStatus(running=sum(s is PilotStatus.RUNNING for s in values),
                        waiting=sum(s.is_waiting for s in values))


class MemoryStorage(StorageProtocol):
    """Files as bytes in a dict; directories are implied by the paths."""

    scheme: ClassVar[str] = "memory"

    def __init__(self, name: str = "memory-se") -> None:
        self.name = name
        self._files: dict[str, bytes] = {}
        self._lock = threading.Lock()
        #: paths on "tape" only (tests put them there); ``prepare`` records them as requested,
        #: :meth:`bring_online` finishes the recall
        self.offline: set[str] = set()
        self.prepared: list[str] = []

    def is_online(self, path: str) -> bool:
        """Whether ``path`` is readable now (a test marks paths offline)."""
        path = self._check(path)
        self.stat(path)
        return path not in self.offline

    def prepare(self, paths: Sequence[str]) -> None:
        """Record a prestage request for ``paths``."""
        with self._lock:
            self.prepared.extend(self._check(p) for p in paths)

    def bring_online(self, paths: Sequence[str] | None = None) -> None:
        """Finish the recall of ``paths`` (default: everything prepared)."""
        with self._lock:
            for path in paths if paths is not None else self.prepared:
                self.offline.discard(self._check(path))

    @staticmethod
    def _check(path: str) -> str:
        if not path.startswith("/") or "/../" in f"{path}/" or "\x00" in path:
            raise StorageError(f"invalid storage path {path!r}", path=path)
        return path.rstrip("/") or "/"

    def url(self, path: str) -> str:
        return f"memory://{self.name}{self._check(path)}"

    def put(self, source: Path, path: str) -> FileStat:
        path = self._check(path)
        data = Path(source).read_bytes()
        with self._lock:
            if self._is_dir(path):
                raise StorageError(f"{self.url(path)} is a directory", url=self.url(path))
            self._files[path] = data
        return FileStat(size=len(data), checksum=adler32_bytes(data))

    def get(self, path: str, destination: Path) -> FileStat:
        path = self._check(path)
        with self._lock:
            data = self._files.get(path)
            offline = path in self.offline
        if data is None:
            raise NotFound(f"no file {self.url(path)}", url=self.url(path))
        if offline:
            raise StorageError(f"{self.url(path)} is on tape only: stage it first", url=self.url(path))
        Path(destination).write_bytes(data)
        return FileStat(size=len(data), checksum=adler32_bytes(data))

    def _is_dir(self, path: str) -> bool:
        prefix = path.rstrip("/") + "/"
        return any(p.startswith(prefix) for p in self._files)

    def stat(self, path: str) -> FileStat:
        path = self._check(path)
        with self._lock:
            data = self._files.get(path)
            if data is not None:
                return FileStat(size=len(data), checksum=adler32_bytes(data))
            if self._is_dir(path):
                return FileStat(size=0, is_dir=True)
        raise NotFound(f"no file {self.url(path)}", url=self.url(path))

    def remove(self, path: str) -> None:
        path = self._check(path)
        with self._lock:
            self._files.pop(path, None)

    def listdir(self, path: str) -> list[str]:
        path = self._check(path)
        prefix = "/" if path == "/" else path + "/"
        with self._lock:
            names = {p[len(prefix):].split("/")[0] for p in self._files if p.startswith(prefix)}
        if not names:
            raise NotFound(f"no directory {self.url(path)}", url=self.url(path))
        return sorted(names)

"""What a pilot needs from the interware, embedded or over HTTP.

The pilot and the job wrapper only talk to a :class:`PilotServices`: match a
job, report statuses and parameters, send heartbeats (and get commands such
as ``Kill`` back), move sandboxes. :class:`EmbeddedServices` calls the
engines of an :class:`~dirac_core.interware.Interware` in this process;
:class:`RemoteServices` calls a server through the remote client, so the same
pilot runs on a laptop and on a worker node.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from dirac_core.errors import BulkResult, DiracError
from dirac_core.model.identity import Identity
from dirac_core.model.pilot import PilotStatus
from dirac_core.wms.control import JobCommand
from dirac_core.wms.matcher import MatchedJob
from dirac_core.wms.resource import ResourceDescription
from dirac_core.wms.sandbox_archives import pack, unpack
from dirac_core.wms.sandboxes import SandboxStore

if TYPE_CHECKING:
    from dirac_core.client import RemoteInterware
    from dirac_core.interware import Interware

__all__ = ["EmbeddedServices", "PilotServices", "RemoteServices", "StatusUpdates"]

#: ``{job_id: {time: {"Status": ..., "MinorStatus": ..., "ApplicationStatus": ..., "Source": ...}}}``
StatusUpdates = Mapping[int, Mapping[datetime, Mapping[str, Any]]]


class PilotServices(Protocol):
    """The calls a pilot and its job wrappers make."""

    def match(self, resource: ResourceDescription) -> MatchedJob | None:
        """One job for ``resource``, or None when there is no work for it."""

    def set_status(self, updates: StatusUpdates) -> BulkResult[int, Any]:
        """Report status changes (keyed by their time)."""

    def heartbeat(self, metrics: Mapping[int, Mapping[str, Any]]) -> BulkResult[int, list[JobCommand]]:
        """Report that jobs are alive, with metrics; the commands waiting for each job."""

    def set_parameters(self, job_id: int, parameters: Mapping[str, Any]) -> None:
        """Record free parameters of a job (exit code, stdout tail, node, ...)."""

    def download_sandbox(self, pfn: str, dest: Path) -> list[Path]:
        """Fetch and unpack a sandbox into ``dest``; the files written."""

    def upload_output(self, job_id: int, paths: Iterable[Path]) -> str:
        """Pack ``paths`` as the job's output sandbox, store and assign it; its PFN."""

    def report_pilot(self, stamp: str, status: PilotStatus, reason: str = "") -> None:
        """Record what the pilot itself knows of its state (Running, Done, Failed)."""


class EmbeddedServices:
    """:class:`PilotServices` over an interware in this process, acting as ``identity``.

    Sandboxes go to ``sandboxes``, by default the interware's store
    (:meth:`SandboxStore.for_interware`: its ``[sandboxes]`` directory or storage element, else
    ``sandboxes`` beside a SQLite database).
    """

    def __init__(self, interware: Interware, identity: Identity, *, sandboxes: SandboxStore | None = None
                 ) -> None:
        self.interware = interware
        self.identity = identity
        self.sandboxes = sandboxes or SandboxStore.for_interware(interware)

    def match(self, resource: ResourceDescription) -> MatchedJob | None:
        return self.interware.wms.match(resource, self.identity)

    def set_status(self, updates: StatusUpdates) -> BulkResult[int, Any]:
        return self.interware.wms.set_status(updates)

    def heartbeat(self, metrics: Mapping[int, Mapping[str, Any]]) -> BulkResult[int, list[JobCommand]]:
        return self.interware.wms.heartbeat(metrics)

    def set_parameters(self, job_id: int, parameters: Mapping[str, Any]) -> None:
        self.interware.wms.set_parameters(job_id, parameters)

    def _store(self) -> SandboxStore:
        if self.sandboxes is None:
            raise DiracError("this interware keeps no sandboxes (no store configured)")
        return self.sandboxes

    def download_sandbox(self, pfn: str, dest: Path) -> list[Path]:
        with self._store().local_file(pfn) as archive:
            return unpack(archive, dest)

    def upload_output(self, job_id: int, paths: Iterable[Path]) -> str:
        store = self._store()
        owner = self.interware.wms.get_jobs([job_id])[job_id]
        identity = Identity(user=owner["owner"], group=owner["owner_group"], vo=owner["vo"])
        with tempfile.TemporaryFile() as archive:
            checksum, size = pack(paths, archive)
            pfn, present = store.init_upload(identity, checksum, size, "tar.bz2")
            if not present:
                archive.seek(0)
                store.store(pfn, archive)
        store.assign(job_id, "output", [pfn])
        return pfn

    def report_pilot(self, stamp: str, status: PilotStatus, reason: str = "") -> None:
        self.interware.pilots.set_status({stamp: (status, reason)})


class RemoteServices:
    """:class:`PilotServices` over a server, through :class:`~dirac_core.client.RemoteInterware`."""

    def __init__(self, remote: RemoteInterware) -> None:
        self.remote = remote

    def match(self, resource: ResourceDescription) -> MatchedJob | None:
        return self.remote.wms.match(resource)

    def set_status(self, updates: StatusUpdates) -> BulkResult[int, Any]:
        return self.remote.wms.set_status(updates)

    def heartbeat(self, metrics: Mapping[int, Mapping[str, Any]]) -> BulkResult[int, list[JobCommand]]:
        return self.remote.wms.heartbeat(metrics)

    def set_parameters(self, job_id: int, parameters: Mapping[str, Any]) -> None:
        self.remote.wms.set_parameters(job_id, parameters)

    def download_sandbox(self, pfn: str, dest: Path) -> list[Path]:
        return self.remote.wms.download_sandbox(pfn, dest)

    def upload_output(self, job_id: int, paths: Iterable[Path]) -> str:
        pfn = self.remote.wms.upload_sandbox(paths)
        self.remote.wms.assign_output_sandbox(job_id, pfn)
        return pfn

    def report_pilot(self, stamp: str, status: PilotStatus, reason: str = "") -> None:
        self.remote.pilots.set_status({stamp: (status, reason)})

"""A job's input and output data through a data manager (the job wrapper's ``DataTransfers``).

Each job's files move through a data manager acting as the job's owner, whose failover
recorder makes requests of that job (:meth:`Interware.data_manager
<dirac_core.interware.Interware.data_manager>` builds such managers). Outputs are named
``/vo/user/u/user/<OutputPath or job id>/<file name>`` and stored on the job's ``OutputSE``
list in order (default: the VO's ``output_ses``); when none of them
takes a file, it goes to the VO's failover SEs (``failover_ses``), and a ``ReplicateAndRegister``
to the SE the job asked for is recorded through the data manager's failover recorder, so that
the request system moves it later. A file no SE takes fails the job's output step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dirac_core.dms.manager import DataManager
from dirac_core.dms.storage_element import StorageElements
from dirac_core.errors import DiracError, StorageError
from dirac_core.jdl.description import JobDescription
from dirac_core.model.identity import Identity
from dirac_core.model.lfn import normalize_lfn
from dirac_core.pilot.wrapper import UploadedData
from dirac_core.rms.failover import RequestFailover
from dirac_core.wms.matcher import MatchedJob

if TYPE_CHECKING:
    from dirac_core.client import RemoteInterware
    from dirac_core.interware import Interware

__all__ = ["ManagedTransfers", "interware_transfers", "output_lfn", "remote_transfers"]

log = logging.getLogger(__name__)


def output_lfn(matched: MatchedJob, job: JobDescription, name: str) -> str:
    """Where an output file of a job goes in the catalog: ``OutputPath`` under the owner's folder
    ``/vo/user/u/user`` (DIRAC's rule: the path is relative, its leading ``/`` dropped), an
    ``OutputPath`` of ``LFN:/...`` as it is, and without one the job's own folder
    ``/vo/user/u/user/<job id>``."""
    user = matched.owner
    home = f"/{matched.vo}/user/{user[:1]}/{user}"
    if job.output_path and job.output_path.startswith("LFN:"):
        return normalize_lfn(f"{job.output_path.removeprefix('LFN:')}/{name}")
    if job.output_path:
        return normalize_lfn(f"{home}/{job.output_path.lstrip('/')}/{name}")
    return normalize_lfn(f"{home}/{matched.job_id}/{name}")


class ManagedTransfers:
    """``DataTransfers`` over data managers: ``managers`` gives the one for a job (or is one
    data manager for every job)."""

    def __init__(self, managers: DataManager | Callable[[MatchedJob], DataManager], *,
                 default_ses: Sequence[str] = (), failover_ses: Sequence[str] = ()) -> None:
        self._managers = managers
        self.default_ses = tuple(default_ses)
        self.failover_ses = tuple(failover_ses)

    def manager_for(self, matched: MatchedJob) -> DataManager:
        """The data manager that moves ``matched``'s files."""
        return self._managers if isinstance(self._managers, DataManager) else self._managers(matched)

    def download(self, matched: MatchedJob, lfns: Sequence[str], dest: Path) -> None:
        """Fetch every LFN into ``dest`` (the best replica of each, checksum verified)."""
        manager = self.manager_for(matched)
        for lfn in lfns:
            manager.get_file(lfn, dest)

    def upload(self, matched: MatchedJob, job: JobDescription, paths: Sequence[Path]) -> UploadedData:
        """Store and register each file; the LFNs and the failover requests made. ``StorageError``
        naming every SE tried when a file cannot be stored anywhere."""
        wanted = [se for se in job.output_se if se] or list(self.default_ses)
        if not wanted and not self.failover_ses:
            raise StorageError("no OutputSE given and the VO has no default or failover SE")
        manager = self.manager_for(matched)
        lfns: list[str] = []
        requests: list[str] = []
        for path in paths:
            lfn = output_lfn(matched, job, path.name)
            requests.extend(self._store(manager, lfn, path, wanted))
            lfns.append(lfn)
        return UploadedData(lfns=tuple(lfns), requests=tuple(requests))

    def _store(self, manager: DataManager, lfn: str, path: Path, wanted: Sequence[str]) -> list[str]:
        """Store one file; the failover requests it took (a registration to redo, a move)."""
        tried: list[str] = []
        for se in wanted:
            try:
                stored = manager.put_and_register(lfn, path, se)
            except DiracError as exc:
                tried.append(f"{se}: {exc}")
                continue
            return [stored.failover] if stored.failover is not None else []
        for se in self.failover_ses:
            try:
                stored = manager.put_and_register(lfn, path, se)
            except DiracError as exc:
                tried.append(f"{se} (failover): {exc}")
                continue
            records = [stored.failover] if stored.failover is not None else []
            if wanted and manager.failover is not None:
                record = manager.failover("ReplicateAndRegister", lfn, source=se, target=wanted[0],
                                          remove_source=True)
                log.warning("%s went to failover SE %s; request %s moves it to %s", lfn, se, record,
                            wanted[0])
                records.append(record)
            return records
        raise StorageError(f"{path.name} could not be stored: " + "; ".join(tried), lfn=lfn)


def interware_transfers(iw: Interware, vo: str) -> ManagedTransfers | None:
    """The transfers of a pilot running inside ``iw`` for ``vo``: each job's files moved as its
    owner, failover requests made for the job, SEs from the VO's policy. None without a catalog."""
    if iw.catalog is None:
        return None
    policy = iw.config.operations.policy(vo)

    def manager(matched: MatchedJob) -> DataManager:
        return iw.data_manager(iw.identity(matched.owner, matched.owner_group), job_id=matched.job_id)

    return ManagedTransfers(manager, default_ses=policy.output_ses, failover_ses=policy.failover_ses)


def remote_transfers(remote: RemoteInterware, vo: str) -> ManagedTransfers:
    """The transfers of a pilot talking to a server: the SEs of the server's configuration reached
    from this node, the server's catalog and request store used for each job (``X-Dirac-Job``:
    the server acts as the job's owner and checks the job is this pilot's)."""
    config = remote.config()
    storage = StorageElements(config)
    policy = config.operations.policy(vo)

    def manager(matched: MatchedJob) -> DataManager:
        owner = Identity(user=matched.owner, group=matched.owner_group, vo=matched.vo)
        failover = RequestFailover(remote.requests.for_job(matched.job_id), owner=owner,
                                   job_id=matched.job_id, component="JobWrapper")
        return DataManager(catalog=remote.catalog.for_job(matched.job_id), storage=storage, failover=failover)

    return ManagedTransfers(manager, default_ses=policy.output_ses, failover_ses=policy.failover_ses)

"""A job's input and output data through a data manager (the job wrapper's ``DataTransfers``).

Outputs are named ``<OutputPath or /vo/user/u/user/job_id>/<file name>`` and stored on the
job's ``OutputSE`` list in order (default: ``default_ses``); when none of them
takes a file, it goes to the VO's failover SEs (``failover_ses``), and a ``ReplicateAndRegister``
to the SE the job asked for is recorded through the data manager's failover recorder, so that
the request system moves it later. A file no SE takes fails the job's output step.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from dirac_core.dms.manager import DataManager
from dirac_core.errors import DiracError, StorageError
from dirac_core.jdl.description import JobDescription
from dirac_core.model.lfn import normalize_lfn
from dirac_core.wms.matcher import MatchedJob

__all__ = ["ManagedTransfers", "output_lfn"]

log = logging.getLogger(__name__)


def output_lfn(matched: MatchedJob, job: JobDescription, name: str) -> str:
    """Where an output file of a job goes in the catalog."""
    if job.output_path:
        return normalize_lfn(f"{job.output_path.removeprefix('LFN:')}/{name}")
    user = matched.owner
    return normalize_lfn(f"/{matched.vo}/user/{user[:1]}/{user}/{matched.job_id}/{name}")


class ManagedTransfers:
    """``DataTransfers`` over a :class:`~dirac_core.dms.manager.DataManager`."""

    def __init__(self, manager: DataManager, *, default_ses: Sequence[str] = (),
                 failover_ses: Sequence[str] = ()) -> None:
        self.manager = manager
        self.default_ses = tuple(default_ses)
        self.failover_ses = tuple(failover_ses)

    def download(self, lfns: Sequence[str], dest: Path) -> None:
        """Fetch every LFN into ``dest`` (the best replica of each, checksum verified)."""
        for lfn in lfns:
            self.manager.get_file(lfn, dest)

    def upload(self, matched: MatchedJob, job: JobDescription, paths: Sequence[Path]) -> list[str]:
        """Store and register each file; ``StorageError`` naming every SE tried when one cannot be."""
        wanted = [se for se in job.output_se if se] or list(self.default_ses)
        if not wanted and not self.failover_ses:
            raise StorageError("no OutputSE given and the VO has no default or failover SE")
        stored = []
        for path in paths:
            lfn = output_lfn(matched, job, path.name)
            stored.append(self._store(lfn, path, wanted))
        return stored

    def _store(self, lfn: str, path: Path, wanted: Sequence[str]) -> str:
        tried: list[str] = []
        for se in wanted:
            try:
                self.manager.put_and_register(lfn, path, se)
                return lfn
            except DiracError as exc:
                tried.append(f"{se}: {exc}")
        for se in self.failover_ses:
            try:
                self.manager.put_and_register(lfn, path, se)
            except DiracError as exc:
                tried.append(f"{se} (failover): {exc}")
                continue
            if wanted and self.manager.failover is not None:
                record = self.manager.failover("ReplicateAndRegister", lfn, source=se, target=wanted[0],
                                               remove_source=True)
                log.warning("%s went to failover SE %s; request %s moves it to %s", lfn, se, record,
                            wanted[0])
            return lfn
        raise StorageError(f"{path.name} could not be stored: " + "; ".join(tried), lfn=lfn)

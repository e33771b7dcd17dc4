"""Submission: JDLs or descriptions in, job rows, history and task-queue entries out.

One call is one transaction: every job of a bulk or parametric submission is
written, or none is. Validation happens before anything is written: a bad
JDL, an out-of-range value or a parametric expansion over the limit raises
:class:`~dirac_core.errors.JDLError` naming the job (its position in the
call) and the attribute. Owner, group and VO come from the caller's
:class:`~dirac_core.model.identity.Identity`; a JDL claiming another owner is
ignored in its favour, and the history says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import attrs

from dirac_core.errors import JDLError
from dirac_core.jdl.builder import Job
from dirac_core.jdl.description import JobDescription, from_classad
from dirac_core.jdl.parametric import expand, substitute_job_id
from dirac_core.jdl.syntax import ClassAd, dump, parse
from dirac_core.model.identity import Identity
from dirac_core.model.job import JobStatus
from dirac_core.wms.checks import CheckContext, Replicas, Verdict, run_checks
from dirac_core.wms.store import history_row

if TYPE_CHECKING:
    from dirac_core.plugins.catalog import Catalog

__all__ = ["JobInput", "PreparedJob", "SubmittedJob", "prepare", "resolve_replicas", "rows_for"]

#: What ``submit`` accepts for one job.
JobInput = str | JobDescription | Job | ClassAd

_IDENTITY_KEYS = {"Owner": "user", "OwnerGroup": "group", "VirtualOrganization": "vo"}


@attrs.frozen(kw_only=True)
class SubmittedJob:
    """A job accepted by ``submit``: its id and where the checks left it."""

    job_id: int
    status: JobStatus
    minor_status: str
    timestamp: datetime


@attrs.frozen(kw_only=True)
class PreparedJob:
    """One validated job before it has an id: its JDL, description and notes for the history."""

    ad: ClassAd
    description: JobDescription
    notes: tuple[str, ...] = ()
    hook_problems: tuple[str, ...] = ()


def _as_classad(item: JobInput, index: int) -> ClassAd:
    if isinstance(item, str):
        try:
            return parse(item)
        except JDLError as exc:
            raise _at(exc, index) from None
    if isinstance(item, Job):
        return item.to_classad()
    if isinstance(item, JobDescription):
        return item.to_classad()
    if isinstance(item, dict):
        return item
    raise TypeError(f"job {index}: expected JDL text, a JobDescription or a Job, "
                    f"got {type(item).__name__}")


def _at(exc: JDLError, index: int) -> JDLError:
    fields = dict(exc.fields) if hasattr(exc, "fields") else {}
    fields["job_index"] = index
    return JDLError(f"job {index}: {exc}", **fields)


def prepare(items: Sequence[JobInput], identity: Identity, *, limit: int,
            hooks: Any = None) -> list[PreparedJob]:
    """Parse, expand and validate every job; raise ``JDLError`` for the first bad one.

    ``limit`` bounds the jobs of one parametric JDL (checked before expanding).
    """
    prepared: list[PreparedJob] = []
    for index, item in enumerate(items):
        ad = _as_classad(item, index)
        try:
            expanded = expand(ad, limit=limit)
        except JDLError as exc:
            raise _at(exc, index) from None
        notes = tuple(
            f"{key} {str(ad[key])!r} in the JDL ignored: submitted as {getattr(identity, attr)!r}"
            for key, attr in _IDENTITY_KEYS.items()
            if key in ad and str(ad[key]) != getattr(identity, attr))
        for one in expanded:
            try:
                description = from_classad(one)
            except JDLError as exc:
                raise _at(exc, index) from None
            problems: tuple[str, ...] = ()
            if hooks is not None:
                found = hooks.hook.dirac_validate_job(
                    description=one, owner=identity.user, group=identity.group, vo=identity.vo)
                problems = tuple(p for result in found for p in (result or ()))
            prepared.append(PreparedJob(ad=one, description=description, notes=notes,
                                        hook_problems=problems))
    return prepared


def resolve_replicas(catalog: Catalog | None,
                     jobs: Sequence[PreparedJob | JobDescription]) -> Replicas:
    """Look up every input file of ``jobs`` in the catalog, in one bulk call."""
    descs = [j.description if isinstance(j, PreparedJob) else j for j in jobs]
    lfns = sorted({lfn[4:] for desc in descs for lfn in desc.input_data})
    if not lfns:
        return {}
    if catalog is None:
        return dict.fromkeys(lfns)
    result = catalog.get_replicas(lfns)
    return {lfn: result.ok.get(lfn) for lfn in lfns}


def rows_for(job_id: int, job: PreparedJob, identity: Identity, *, ctx: CheckContext,
             replicas: Replicas, now: datetime) -> tuple[dict[str, Any], str, Verdict,
                                                          list[dict[str, Any]]]:
    """The job row, stored JDL, verdict and history rows of one prepared job."""
    desc = job.description
    ad = substitute_job_id(job.ad, job_id)
    ad.update(JobID=job_id, Owner=identity.user, OwnerGroup=identity.group,
              VirtualOrganization=identity.vo)
    if job.hook_problems:
        verdict = Verdict(steps=((JobStatus.FAILED, "Job validation"),),
                          reason="; ".join(job.hook_problems))
    else:
        verdict = run_checks(desc, identity, ctx, replicas)
    history: list[dict[str, Any]] = [
        history_row(job_id, JobStatus.RECEIVED, "Job accepted", "Unknown", now, "JobManager")]
    history.extend(history_row(job_id, None, None, note, now, "JobManager") for note in job.notes)
    for status, minor in verdict.steps:
        last = status is verdict.status and minor == verdict.minor_status
        reason = verdict.reason if last and verdict.reason else None
        history.append(history_row(job_id, status, minor, reason, now, "JobChecks"))
    row = {
        "job_id": job_id, "status": verdict.status, "minor_status": verdict.minor_status,
        "application_status": verdict.reason[:255] if verdict.reason else "Unknown",
        "owner": identity.user, "owner_group": identity.group, "vo": identity.vo,
        "job_name": desc.job_name[:128], "job_type": desc.job_type[:32],
        "job_group": (desc.job_group or "")[:128], "site": verdict.site[:128],
        "user_priority": desc.priority, "cpu_time": desc.cpu_time, "submission_time": now,
        "last_update_time": now, "reschedule_counter": 0, "verified_flag": True,
        "accounted_flag": False, "reschedule_time": None, "start_exec_time": None,
        "end_exec_time": None, "heartbeat_time": None,
    }
    return row, dump(ad), verdict, history


def input_rows(job_id: int, description: JobDescription) -> list[Mapping[str, Any]]:
    """The ``wms_input_data`` rows of a job."""
    return [{"job_id": job_id, "position": i, "lfn": lfn[4:], "status": "AprioriGood"}
            for i, lfn in enumerate(description.input_data)]

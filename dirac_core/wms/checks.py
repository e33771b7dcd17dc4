"""The checks every new (or rescheduled) job goes through, as pure functions.

DIRAC runs them as optimizer executors (JobPath, JobSanity, InputData,
JobScheduling); here each is a function of the job description, the caller's
identity and a :class:`CheckContext` built once per call from the
configuration. :func:`run_checks` applies them in order and returns a
:class:`Verdict`: the steps taken (each becomes a history record) and where
the job ends: Waiting with its task-queue requirements, Staging, or Failed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs

from dirac_core.config import Config
from dirac_core.config.resources import Medium
from dirac_core.jdl.description import JobDescription
from dirac_core.model.identity import Identity
from dirac_core.model.job import JobStatus
from dirac_core.wms.requirements import JobRequirements, cpu_segment

__all__ = ["CheckContext", "Verdict", "auto_tags", "candidate_sites", "check_sanity",
           "resolve_platforms", "run_checks"]

#: Replicas of each LFN (without the ``LFN:`` prefix): storage element names,
#: or None when the catalog does not know the file.
Replicas = Mapping[str, frozenset[str] | None]


@attrs.frozen(kw_only=True)
class CheckContext:
    """What the checks need to know about the configuration, computed once per call."""

    config: Config
    se_sites: Mapping[str, frozenset[str]]
    tape_ses: frozenset[str]
    known_sites: frozenset[str]

    @classmethod
    def from_config(cls, config: Config) -> CheckContext:
        """Index the configuration for the checks."""
        resources = config.resources
        return cls(config=config, se_sites=resources.site_of_se(),
                   tape_ses=frozenset(name for name, se in resources.storage_elements.items()
                                      if se.medium is Medium.TAPE),
                   known_sites=frozenset(site.name for site in resources.all_sites()))


@attrs.frozen(kw_only=True)
class Verdict:
    """The outcome of the checks for one job.

    ``steps`` are the ``(status, minor status)`` the job went through, the
    last one being where it stays. ``requirements`` is set when it goes to
    Waiting; ``site`` is the Jobs ``Site`` attribute (``ANY``, ``Multiple`` or
    one site); ``reason`` explains a failure (the application status).
    """

    steps: tuple[tuple[JobStatus, str], ...]
    requirements: JobRequirements | None = None
    site: str = "ANY"
    reason: str = ""

    @property
    def status(self) -> JobStatus:
        """Where the job ends."""
        return self.steps[-1][0]

    @property
    def minor_status(self) -> str:
        """The minor status it ends with."""
        return self.steps[-1][1]


def check_sanity(job: JobDescription, identity: Identity, ctx: CheckContext) -> list[str]:
    """Problems that make the job impossible to run here (empty when sane)."""
    policy = ctx.config.operations.policy(identity.vo)
    problems = []
    if job.job_type not in policy.allowed_job_types:
        allowed = ", ".join(sorted(policy.allowed_job_types))
        problems.append(f"job type {job.job_type!r} is not allowed (allowed: {allowed})")
    if job.cpu_time > policy.max_cpu_time:
        problems.append(f"CPUTime {job.cpu_time} exceeds the VO's maximum {policy.max_cpu_time}")
    if len(job.input_data) > policy.max_input_files:
        problems.append(f"{len(job.input_data)} input files exceed the maximum "
                        f"{policy.max_input_files}")
    unknown = sorted(set(job.sites) - ctx.known_sites)
    if unknown:
        problems.append(f"unknown site(s): {', '.join(unknown)}")
    usable = set(job.sites) - set(job.banned_sites)
    if job.sites and not usable:
        problems.append("every requested site is also banned")
    return problems


def candidate_sites(lfns: Sequence[str], replicas: Replicas,
                    ctx: CheckContext) -> tuple[dict[str, tuple[int, int]], list[str]]:
    """Sites holding every input file, with (files on disk, files on tape) each; and missing LFNs."""
    missing = [lfn for lfn in lfns if not replicas.get(lfn)]
    if missing:
        return {}, missing
    counts: dict[str, list[int]] = {}
    for lfn in lfns:
        reps = replicas[lfn] or frozenset()
        seen: dict[str, bool] = {}  # site -> has a disk copy of this file
        for se in reps:
            for site in ctx.se_sites.get(se, ()):
                seen[site] = seen.get(site, False) or se not in ctx.tape_ses
        for site, on_disk in seen.items():
            pair = counts.setdefault(site, [0, 0])
            pair[0 if on_disk else 1] += 1
    return {site: (d, t) for site, (d, t) in counts.items() if d + t == len(lfns)}, []


def resolve_platforms(job: JobDescription, ctx: CheckContext) -> tuple[frozenset[str], list[str]]:
    """The DIRAC platforms that can run the job, and the platforms nobody knows."""
    resources = ctx.config.resources
    out: set[str] = set()
    unknown = []
    for platform in job.platforms:
        if platform.upper() == "ANY":
            return frozenset(), []
        compatible = resources.compatible_platforms(platform)
        if compatible is None:
            unknown.append(platform)
        else:
            out |= compatible
    return frozenset(out), unknown


def auto_tags(job: JobDescription) -> frozenset[str]:
    """The job's tags plus those implied by processors, RAM and whole-node (DIRAC's rules)."""
    tags = set(job.tags)
    low, high = job.min_processors, job.max_processors
    if low == high and low > 1:
        tags.add(f"{low}Processors")
    if low > 1 or high is None or high > 1:
        tags.add("MultiProcessor")
    if job.whole_node:
        tags |= {"WholeNode", "MultiProcessor"}
    if job.max_ram_gb:
        tags.add(f"{job.max_ram_gb}GB")
    return frozenset(tags)


def run_checks(job: JobDescription, identity: Identity, ctx: CheckContext,
               replicas: Replicas) -> Verdict:
    """Sanity, input data, platform and tags, then scheduling; the job's verdict.

    ``replicas`` must hold every LFN of ``job.input_data`` (without ``LFN:``).
    """
    steps: list[tuple[JobStatus, str]] = [(JobStatus.CHECKING, "JobSanity")]

    def failed(minor: str, reason: str) -> Verdict:
        return Verdict(steps=(*steps, (JobStatus.FAILED, minor)), reason=reason)

    problems = check_sanity(job, identity, ctx)
    if problems:
        return failed("JobSanity optimizer", "; ".join(problems))
    sites = set(job.sites) - set(job.banned_sites)
    staging = False
    if job.input_data:
        steps.append((JobStatus.CHECKING, "InputData"))
        lfns = [lfn[4:] for lfn in job.input_data]
        candidates, missing = candidate_sites(lfns, replicas, ctx)
        if missing:
            return failed("Input Data Not Available", f"no replica of {', '.join(missing[:5])}"
                          + (f" and {len(missing) - 5} more" if len(missing) > 5 else ""))
        usable = {s: c for s, c in candidates.items()
                  if (not job.sites or s in sites) and s not in job.banned_sites}
        if not usable:
            return failed("No candidate sites available",
                          "no site holds every input file within the requested sites")
        on_disk = {s for s, (disk, _) in usable.items() if disk == len(lfns)}
        if on_disk:
            sites = on_disk
        else:
            # stage at the site with the most files already on disk (name breaks ties)
            best = max(sorted(usable), key=lambda s: usable[s][0])
            sites, staging = {best}, True
    steps.append((JobStatus.CHECKING, "JobScheduling"))
    platforms, unknown = resolve_platforms(job, ctx)
    if unknown:
        return failed("JobScheduling optimizer", f"unknown platform(s): {', '.join(unknown)}")
    requirements = JobRequirements(
        owner=identity.user, owner_group=identity.group, vo=identity.vo,
        cpu_time=cpu_segment(job.cpu_time), sites=frozenset(sites),
        banned_sites=frozenset(job.banned_sites), grid_ces=frozenset(job.grid_ces),
        platforms=platforms, job_types=frozenset({job.job_type}), tags=auto_tags(job))
    site = "ANY" if not sites else next(iter(sites)) if len(sites) == 1 else "Multiple"
    if staging:
        return Verdict(steps=(*steps, (JobStatus.STAGING, "Request To Be Sent")),
                       requirements=requirements, site=site)
    return Verdict(steps=(*steps, (JobStatus.WAITING, "Pilot Agent Submission")),
                   requirements=requirements, site=site)

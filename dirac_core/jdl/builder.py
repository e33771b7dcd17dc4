"""The pythonic job builder: the same description a JDL would give, written as calls.

Each method records JDL attributes and returns the builder, so calls chain;
:meth:`Job.description` validates through the same :func:`from_classad` as a
parsed JDL, so a builder and a JDL that say the same thing give equal
:class:`JobDescription` objects, and bad values raise the same ``JDLError``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Self

from dirac_core.jdl.description import JobDescription, from_classad
from dirac_core.jdl.syntax import ClassAd, Value, dump

__all__ = ["Job"]


def _names(values: Iterable[str] | str) -> list[Value]:
    return [values] if isinstance(values, str) else list(values)


class Job:
    """Build a job description step by step (``Job("run.sh").cpu_time(3600).sites("LCG.CERN.ch")``)."""

    def __init__(self, executable: str, arguments: str | None = None) -> None:
        self._ad: ClassAd = {"Executable": executable}
        if arguments is not None:
            self._ad["Arguments"] = arguments

    def _set(self, name: str, value: Value) -> Self:
        self._ad[name] = value
        return self

    def _extend(self, name: str, values: Iterable[str] | str) -> Self:
        current = self._ad.get(name, [])
        before = current if isinstance(current, list) else [current]  # a scalar given through set()
        self._ad[name] = [*before, *_names(values)]
        return self

    def input_sandbox(self, files: Iterable[str] | str) -> Self:
        """Add local files, ``LFN:/...`` or ``SB:...`` items to the input sandbox."""
        return self._extend("InputSandbox", files)

    def output_sandbox(self, patterns: Iterable[str] | str) -> Self:
        """Add files or globs to bring back in the output sandbox."""
        return self._extend("OutputSandbox", patterns)

    def input_data(self, lfns: Iterable[str] | str) -> Self:
        """Add input LFNs (``/vo/...`` or ``LFN:/vo/...``)."""
        return self._extend("InputData", lfns)

    def output_data(self, files: Iterable[str] | str, *, se: Iterable[str] | str = (),
                    path: str | None = None) -> Self:
        """Add output files, with the SEs to try in order and the LFN path under the user's area."""
        self._extend("OutputData", files)
        if se:
            self._extend("OutputSE", se)
        return self._set("OutputPath", path) if path is not None else self

    def sites(self, sites: Iterable[str] | str) -> Self:
        """Restrict the job to these sites (``ANY`` means no restriction)."""
        return self._extend("Site", sites)

    def banned_sites(self, sites: Iterable[str] | str) -> Self:
        """Never run at these sites."""
        return self._extend("BannedSites", sites)

    def platform(self, platforms: Iterable[str] | str) -> Self:
        """The platform(s) the payload needs."""
        return self._extend("Platform", platforms)

    def tags(self, tags: Iterable[str] | str) -> Self:
        """Tags a resource must offer."""
        return self._extend("Tags", tags)

    def processors(self, exact: int | None = None, *, min: int | None = None,
                   max: int | None = None, whole_node: bool = False) -> Self:
        """An exact processor count, or bounds (``max=None`` with ``min`` means unbounded)."""
        for name in ("NumberOfProcessors", "MinNumberOfProcessors", "MaxNumberOfProcessors"):
            self._ad.pop(name, None)
        if exact is not None:
            self._ad["NumberOfProcessors"] = exact
            if min is not None or max is not None:
                self._ad["MinNumberOfProcessors"] = min if min is not None else exact
        else:
            self._ad["MinNumberOfProcessors"] = 1 if min is None else min
            self._ad["MaxNumberOfProcessors"] = -1 if max is None else max
        if whole_node:
            self._ad["WholeNode"] = True
        return self

    def ram(self, gigabytes: int) -> Self:
        """Memory the job needs, in GB."""
        return self._set("MaxRAM", gigabytes)

    def cpu_time(self, seconds: int) -> Self:
        """CPU time the job needs (normalised seconds)."""
        return self._set("CPUTime", seconds)

    def priority(self, priority: int) -> Self:
        """The job's priority among its owner's jobs, 0..10."""
        return self._set("Priority", priority)

    def group(self, job_group: str) -> Self:
        """The job group (free text, used to find jobs together)."""
        return self._set("JobGroup", job_group)

    def name(self, name: str) -> Self:
        """The job's name."""
        return self._set("JobName", name)

    def type(self, job_type: str) -> Self:
        """The job type (``User``, ``Test``, ...)."""
        return self._set("JobType", job_type)

    def log_level(self, level: str) -> Self:
        """The log level of the job wrapper."""
        return self._set("LogLevel", level)

    def environment(self, **variables: str) -> Self:
        """Environment variables for the payload."""
        return self._extend("ExecutionEnvironment", [f"{k}={v}" for k, v in variables.items()])

    def set(self, attribute: str, value: Value) -> Self:
        """Any other JDL attribute, kept as given (``extra`` in the description)."""
        return self._set(attribute, value)

    def to_classad(self) -> ClassAd:
        """The attributes recorded so far, as a ClassAd."""
        return dict(self._ad)

    def to_jdl(self) -> str:
        """The job as JDL text."""
        return dump(self._ad)

    def description(self) -> JobDescription:
        """The validated description; raises ``JDLError`` listing every bad value."""
        return from_classad(self._ad)

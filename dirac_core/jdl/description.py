"""The typed job description: every attribute DIRAC knows, validated, the rest kept.

:func:`from_classad` turns a parsed JDL into a :class:`JobDescription`,
reporting every invalid attribute at once in one :class:`JDLError`
(``problems`` lists ``(attribute, why)``); :meth:`JobDescription.to_classad`
writes it back. Attributes we do not model are kept in ``extra`` untouched.
Owner, group and VO are never read from here: they come from the caller's
identity at submission.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from dirac_core.errors import JDLError
from dirac_core.jdl.syntax import Bare, ClassAd, Value

__all__ = ["CPU_TIME_RANGE", "PRIORITY_RANGE", "PROCESSOR_RANGE", "JobDescription", "from_classad"]

CPU_TIME_RANGE = (100, 500_000)
PRIORITY_RANGE = (0, 10)
PROCESSOR_RANGE = (1, 1024)


@attrs.frozen(kw_only=True)
class JobDescription:
    """A job as described by its JDL (reference: DIRAC's JDL attributes)."""

    executable: str
    arguments: str | None = None
    std_output: str = "std.out"
    std_error: str = "std.err"
    input_sandbox: tuple[str, ...] = ()
    output_sandbox: tuple[str, ...] = ()
    input_data: tuple[str, ...] = ()
    input_data_policy: str | None = None
    output_data: tuple[str, ...] = ()
    output_se: tuple[str, ...] = ()
    output_path: str | None = None
    sites: tuple[str, ...] = ()
    banned_sites: tuple[str, ...] = ()
    grid_ces: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    tags: frozenset[str] = frozenset()
    min_processors: int = 1
    max_processors: int | None = 1
    whole_node: bool = False
    max_ram_gb: int | None = None
    cpu_time: int = 86_400
    priority: int = 1
    job_type: str = "User"
    job_group: str | None = None
    job_name: str = "Name"
    log_level: str = "INFO"
    execution_environment: tuple[str, ...] = ()
    extra: dict[str, Value] = attrs.field(factory=dict)

    def to_classad(self) -> ClassAd:
        """The description as a ClassAd (defaults written out, ``extra`` appended)."""
        ad: ClassAd = {"Executable": self.executable}
        if self.arguments is not None:
            ad["Arguments"] = self.arguments
        ad.update({"StdOutput": self.std_output, "StdError": self.std_error, "JobName": self.job_name,
                   "JobType": self.job_type, "CPUTime": self.cpu_time, "Priority": self.priority,
                   "LogLevel": self.log_level})
        for name, value in (("InputSandbox", self.input_sandbox), ("OutputSandbox", self.output_sandbox),
                            ("InputData", self.input_data), ("OutputData", self.output_data),
                            ("OutputSE", self.output_se), ("Site", self.sites),
                            ("BannedSites", self.banned_sites), ("GridCE", self.grid_ces),
                            ("Platform", self.platforms), ("Tags", tuple(sorted(self.tags))),
                            ("ExecutionEnvironment", self.execution_environment)):
            if value:
                ad[name] = list(value)
        for name, opt in (("InputDataPolicy", self.input_data_policy), ("OutputPath", self.output_path),
                          ("JobGroup", self.job_group), ("MaxRAM", self.max_ram_gb)):
            if opt is not None:
                ad[name] = opt
        ad["MinNumberOfProcessors"] = self.min_processors
        if self.max_processors != self.min_processors:
            ad["MaxNumberOfProcessors"] = -1 if self.max_processors is None else self.max_processors
        if self.whole_node:
            ad["WholeNode"] = True
        ad.update(self.extra)
        return ad


def _text(value: Value) -> str:
    if isinstance(value, str | Bare | int | float) and not isinstance(value, bool):
        return str(value).strip()
    raise ValueError(f"expected a string, got {_shown(value)}")


def _list(value: Value) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(t for t in (_text(v) for v in value) if t)
    # DIRAC's habit: a scalar string is a comma-separated list
    return tuple(t for t in (p.strip() for p in _text(value).split(",")) if t)


def _int(value: Value) -> int:
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {_shown(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str | Bare) and str(value).strip().lstrip("+-").isdigit():
        return int(str(value))
    raise ValueError(f"expected an integer, got {_shown(value)}")


def _bool(value: Value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, str | Bare | int) else None
    if text in ("yes", "true", "1", "y"):
        return True
    if text in ("no", "false", "0", "n", ""):
        return False
    raise ValueError(f"expected a boolean, got {_shown(value)}")


def _shown(value: Value) -> str:
    return repr(value.text if isinstance(value, Bare) else value)


def _in_range(low: int, high: int) -> Callable[[Value], int]:
    def check(value: Value) -> int:
        number = _int(value)
        if not low <= number <= high:
            raise ValueError(f"must be between {low} and {high}, got {number}")
        return number
    return check


def _lfns(value: Value) -> tuple[str, ...]:
    out = []
    for item in _list(value):
        lfn = f"LFN:{item}" if item.startswith("/") else item
        if not lfn.startswith("LFN:/") or "//" in lfn[4:]:
            raise ValueError(f"{item!r} is not an LFN (LFN:/vo/path, no '//')")
        out.append(lfn)
    return tuple(out)


def _sites(value: Value) -> tuple[str, ...]:
    return tuple(s for s in _list(value) if s.upper() != "ANY")


# attribute -> (field, converter); legacy spellings map to the same field
_FIELDS: dict[str, tuple[str, Callable[[Value], Any]]] = {
    "Executable": ("executable", _text), "Arguments": ("arguments", _text),
    "StdOutput": ("std_output", _text), "StdError": ("std_error", _text),
    "InputSandbox": ("input_sandbox", _list), "OutputSandbox": ("output_sandbox", _list),
    "InputData": ("input_data", _lfns), "InputDataPolicy": ("input_data_policy", _text),
    "OutputData": ("output_data", _list), "OutputSE": ("output_se", _list),
    "OutputPath": ("output_path", lambda v: _text(v).lstrip("/")),
    "Site": ("sites", _sites), "BannedSites": ("banned_sites", _list), "BannedSite": ("banned_sites", _list),
    "GridCE": ("grid_ces", _list), "GridRequiredCEs": ("grid_ces", _list),
    "Platform": ("platforms", _list), "Tags": ("tags", lambda v: frozenset(_list(v))),
    "Tag": ("tags", lambda v: frozenset(_list(v))),
    "WholeNode": ("whole_node", _bool), "MaxRAM": ("max_ram_gb", _in_range(1, 1 << 20)),
    "CPUTime": ("cpu_time", _in_range(*CPU_TIME_RANGE)), "Priority": ("priority", _in_range(*PRIORITY_RANGE)),
    "JobType": ("job_type", _text), "JobGroup": ("job_group", _text), "JobName": ("job_name", _text),
    "LogLevel": ("log_level", lambda v: _text(v).upper()),
    "ExecutionEnvironment": ("execution_environment", _list),
}
_PROCESSORS = ("NumberOfProcessors", "MinNumberOfProcessors", "MaxNumberOfProcessors")
_IDENTITY = ("Owner", "OwnerGroup", "VirtualOrganization")


def from_classad(ad: ClassAd) -> JobDescription:
    """Validate a parsed JDL; raise one :class:`JDLError` naming every bad attribute.

    ``Owner``, ``OwnerGroup`` and ``VirtualOrganization`` are dropped here: the
    submitter's identity sets them.
    """
    values: dict[str, Any] = {}
    extra: dict[str, Value] = {}
    problems: list[tuple[str, str]] = []
    for name, value in ad.items():
        if name in _FIELDS:
            field, convert = _FIELDS[name]
            try:
                values[field] = convert(value)
            except ValueError as exc:
                problems.append((name, str(exc)))
        elif name not in _PROCESSORS and name not in _IDENTITY:
            extra[name] = value
    if not values.get("executable"):
        problems.append(("Executable", "is mandatory and must not be empty"))
    try:
        values.update(_processors(ad))
    except ValueError as exc:
        problems.append(("NumberOfProcessors", str(exc)))
    if problems:
        text = "; ".join(f"{name}: {why}" for name, why in problems)
        raise JDLError(f"invalid job description: {text}", line=None, column=None, problems=problems)
    return JobDescription(**values, extra=extra)


def _processors(ad: ClassAd) -> dict[str, Any]:
    get = {n: _in_range(*PROCESSOR_RANGE)(ad[n]) for n in ("NumberOfProcessors", "MinNumberOfProcessors")
           if n in ad}
    exact = get.get("NumberOfProcessors")
    raw_max = ad.get("MaxNumberOfProcessors")
    if exact is not None:
        if "MinNumberOfProcessors" in ad or raw_max is not None:
            raise ValueError("give either NumberOfProcessors or Min/MaxNumberOfProcessors, not both")
        return {"min_processors": exact, "max_processors": exact}
    low = get.get("MinNumberOfProcessors", 1)
    high: int | None = low if raw_max is None else _int(raw_max)
    if high == -1:
        high = None  # unbounded
    elif high is not None:
        high = _in_range(*PROCESSOR_RANGE)(high)
        if high < low:
            raise ValueError(f"MaxNumberOfProcessors {high} is less than MinNumberOfProcessors {low}")
    return {"min_processors": low, "max_processors": high}

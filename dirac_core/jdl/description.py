"""The typed job description: every attribute DIRAC knows, validated, the rest kept.

:func:`from_classad` turns a parsed JDL into a :class:`JobDescription`,
reporting every invalid attribute at once in one :class:`JDLError`
(``problems`` lists ``(attribute, why)``); :meth:`JobDescription.to_classad`
writes it back. :meth:`JobDescription.from_jdl` and :meth:`JobDescription.to_jdl`
do the same from and to JDL text. Attributes we do not model are kept in ``extra`` untouched.
Owner, group and VO are never read from here: they come from the caller's
identity at submission.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from itertools import product, repeat
from typing import Any

import attrs

from dirac_core.errors import JDLError
from dirac_core.jdl.flat import Getter, Plan, build_ad, getters, split_planned
from dirac_core.jdl.syntax import Bare, ClassAd, Value, dump, dump_lines, dump_pairs, parse

__all__ = [
    "CPU_TIME_RANGE", "PRIORITY_RANGE", "PROCESSOR_RANGE", "JobDescription", "from_classad", "from_text",
]

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

    @classmethod
    def from_jdl(cls, text: str) -> JobDescription:
        """Parse and validate JDL text: :func:`~dirac_core.jdl.syntax.parse`, then :func:`from_classad`.

        Raises :class:`JDLError`: with ``line`` and ``column`` for a syntax error, with
        ``problems`` for invalid attributes. A parametric description reads as one job, its
        ``Parameters*`` attributes kept in ``extra``; :func:`~dirac_core.jdl.parametric.expand`
        gives its jobs.
        """
        return from_text(text)

    def to_jdl(self) -> str:
        """The description as JDL text; ``JobDescription.from_jdl(d.to_jdl()) == d``.

        The text of ``dump(d.to_classad())``, written without the intermediate ad.
        """
        extra = self.extra
        if extra and not extra.keys().isdisjoint(_WRITTEN):  # ``extra`` may replace a modelled value
            return dump(self.to_classad())
        return "[\n" + dump_pairs(self._attributes()) + (dump_lines(extra) if extra else "") + "]\n"

    def to_classad(self) -> ClassAd:
        """The description as a ClassAd (defaults written out, ``extra`` appended)."""
        ad: ClassAd = {name: list(value) if type(value) is tuple else value  # type: ignore[misc]
                       for name, value in self._attributes()}
        ad.update(self.extra)
        return ad

    def _attributes(self) -> list[tuple[str, Value | Sequence[str]]]:
        """The modelled attributes as written, in order (``to_classad`` and ``to_jdl``); the
        list-valued fields as they are held (tuples), not copied."""
        out: list[tuple[str, Value | Sequence[str]]] = [("Executable", self.executable)]
        if self.arguments is not None:
            out.append(("Arguments", self.arguments))
        out += [("StdOutput", self.std_output), ("StdError", self.std_error), ("JobName", self.job_name),
                ("JobType", self.job_type), ("CPUTime", self.cpu_time), ("Priority", self.priority),
                ("LogLevel", self.log_level)]
        for name, value in (("InputSandbox", self.input_sandbox), ("OutputSandbox", self.output_sandbox),
                            ("InputData", self.input_data), ("OutputData", self.output_data),
                            ("OutputSE", self.output_se), ("Site", self.sites),
                            ("BannedSites", self.banned_sites), ("GridCE", self.grid_ces),
                            ("Platform", self.platforms), ("Tags", sorted(self.tags)),
                            ("ExecutionEnvironment", self.execution_environment)):
            if value:
                out.append((name, value))
        for name, opt in (("InputDataPolicy", self.input_data_policy), ("OutputPath", self.output_path),
                          ("JobGroup", self.job_group), ("MaxRAM", self.max_ram_gb)):
            if opt is not None:
                out.append((name, opt))
        out.append(("MinNumberOfProcessors", self.min_processors))
        if self.max_processors != self.min_processors:
            out.append(("MaxNumberOfProcessors", -1 if self.max_processors is None else self.max_processors))
        if self.whole_node:
            out.append(("WholeNode", True))
        return out


# The converters run for every attribute of every submitted job, so each tries the common case first
# with C-level operations (map, filter, ``in``) before the general, per-item path.

_TEXTUAL = (str, Bare, int, float)
_WORDS = (str, Bare)


def _text(value: Value) -> str:
    if type(value) is str:
        return value.strip()
    if type(value) is Bare:
        return value.text.strip()
    if isinstance(value, _TEXTUAL) and not isinstance(value, bool):
        return str(value).strip()
    raise ValueError(f"expected a string, got {_shown(value)}")


def _list(value: Value) -> tuple[str, ...]:
    if isinstance(value, list):
        if value and type(value[0]) is str:
            try:
                items = tuple(map(str.strip, value))  # type: ignore[arg-type]  # TypeError unless all str
            except TypeError:  # a list of strings mixed with other values
                items = tuple(map(_text, value))
        else:
            items = tuple(map(_text, value))
        return tuple(filter(None, items)) if "" in items else items
    # DIRAC's habit: a scalar string is a comma-separated list
    text = _text(value)
    if "," not in text:
        return (text,) if text else ()
    return tuple(filter(None, map(str.strip, text.split(","))))


def _int(value: Value) -> int:
    if type(value) is int:
        return value
    if isinstance(value, bool):
        raise ValueError(f"expected an integer, got {_shown(value)}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, _WORDS) and str(value).strip().lstrip("+-").isdigit():
        return int(str(value))
    raise ValueError(f"expected an integer, got {_shown(value)}")


def _bool(value: Value) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, (*_WORDS, int)) else None
    if text in ("yes", "true", "1", "y"):
        return True
    if text in ("no", "false", "0", "n", ""):
        return False
    raise ValueError(f"expected a boolean, got {_shown(value)}")


def _shown(value: Value) -> str:
    return repr(value.text if isinstance(value, Bare) else value)


def _in_range(low: int, high: int) -> Callable[[Value], int]:
    def check(value: Value) -> int:
        number = value if type(value) is int else _int(value)
        if not low <= number <= high:
            raise ValueError(f"must be between {low} and {high}, got {number}")
        return number
    return check


def _lfns(value: Value) -> tuple[str, ...]:
    items = _list(value)
    if all(map(str.startswith, items, repeat("LFN:/"))) and "//" not in "\n".join(items):
        return items  # already LFN:/vo/path, as machine-written JDL has them
    out = []
    for item in items:
        lfn = f"LFN:{item}" if item.startswith("/") else item
        if not lfn.startswith("LFN:/") or "//" in lfn[4:]:
            raise ValueError(f"{item!r} is not an LFN (LFN:/vo/path, no '//')")
        out.append(lfn)
    return tuple(out)


# every spelling whose upper() is "ANY" (no other Unicode character upper-cases to A, N or Y alone)
_ANY = frozenset(map("".join, product("aA", "nN", "yY")))


def _sites(value: Value) -> tuple[str, ...]:
    items = _list(value)
    if _ANY.isdisjoint(items):
        return items
    return tuple(s for s in items if s.upper() != "ANY")


def _tags(value: Value) -> frozenset[str]:
    return frozenset(_list(value))


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
    "Platform": ("platforms", _list), "Tags": ("tags", _tags), "Tag": ("tags", _tags),
    "WholeNode": ("whole_node", _bool), "MaxRAM": ("max_ram_gb", _in_range(1, 1 << 20)),
    "CPUTime": ("cpu_time", _in_range(*CPU_TIME_RANGE)), "Priority": ("priority", _in_range(*PRIORITY_RANGE)),
    "JobType": ("job_type", _text), "JobGroup": ("job_group", _text), "JobName": ("job_name", _text),
    "LogLevel": ("log_level", lambda v: _text(v).upper()),
    "ExecutionEnvironment": ("execution_environment", _list),
}
_PROCESSORS = ("NumberOfProcessors", "MinNumberOfProcessors", "MaxNumberOfProcessors")
#: every attribute :meth:`JobDescription.to_classad` may write from the fields (a superset: all
#: the names read into fields, and the processor counts)
_WRITTEN = frozenset(_FIELDS) | frozenset(_PROCESSORS)
_IDENTITY = ("Owner", "OwnerGroup", "VirtualOrganization")
_NOT_EXTRA = frozenset(_PROCESSORS + _IDENTITY)
_NO_PROCESSORS = frozenset(_PROCESSORS)
_processor_count = _in_range(*PROCESSOR_RANGE)
_ONE_PROCESSOR: dict[str, Any] = {"min_processors": 1, "max_processors": 1}


def from_classad(ad: ClassAd) -> JobDescription:
    """Validate a parsed JDL; raise one :class:`JDLError` naming every bad attribute.

    ``Owner``, ``OwnerGroup`` and ``VirtualOrganization`` are dropped here: the
    submitter's identity sets them.
    """
    values: dict[str, Any] = {}
    extra: dict[str, Value] = {}
    problems: list[tuple[str, str]] = []
    for name, value in ad.items():
        entry = _FIELDS.get(name)
        if entry is not None:
            try:
                values[entry[0]] = entry[1](value)
            except ValueError as exc:
                problems.append((name, str(exc)))
        elif name not in _NOT_EXTRA:
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


def from_text(text: str) -> JobDescription:
    """:func:`~dirac_core.jdl.syntax.parse` then :func:`from_classad`, with a shortcut for texts
    of a known shape (:func:`~dirac_core.jdl.flat.split_planned`): the attributes the shape fixes
    (numbers, bare words, lists of them) are converted once per shape, and only the strings once
    per text, read straight from the text's strings (no ad is built). Same result, same errors:
    anything unusual goes the long way."""
    found = split_planned(text)
    if found is None:
        return from_classad(parse(text))
    strings, plan = found
    typed = plan.memo.get("typed")
    if typed is None:  # worked out on a shape's second text: a shape seen once pays nothing more
        if not plan.memo.setdefault("seen", False):
            plan.memo["seen"] = True
            return from_classad(build_ad(plan, strings))
        typed = plan.memo["typed"] = _typed_plan(plan)
    if typed is _LONG_WAY:
        return from_classad(build_ad(plan, strings))
    fixed, varying, extras, last = typed
    values = dict(fixed)
    for index, (field, convert, get) in enumerate(varying):
        raw = get(strings)
        seen = last[index]  # (raw, converted) of the shape's previous text: a production repeats
        if seen[0] == raw:  # its sites, platforms, tags ... (converted values are immutable)
            values[field] = seen[1]
            continue
        try:
            values[field] = converted = convert(raw)
        except ValueError:
            return from_classad(build_ad(plan, strings))  # it names every bad attribute
        last[index] = (raw, converted)  # one tuple: a concurrent reader sees a matching pair
    if not values.get("executable"):
        return from_classad(build_ad(plan, strings))
    return JobDescription(**values, extra={name: get(strings) for name, get in extras})


_UNSEEN: tuple[Any, Any] = (object(), None)  # equal to no value read from a text

#: a shape :func:`from_text` leaves to :func:`from_classad` (a fixed value is invalid, two
#: spellings of one field, or a processor count written as a string)
_LONG_WAY: Any = object()


def _typed_plan(plan: Plan) -> Any:
    """For a shape: the fields it fixes, converted (the processor counts included); (field,
    converter, getter) of the others; (name, getter) of the extra attributes, in the written order;
    and, per varying field, the last (raw, converted) pair seen."""
    fixed_names = {name for name, _ in plan.constants} | {name for name, _ in plan.word_lists}
    fixed_values = dict(plan.constants) | {name: list(values) for name, values in plan.word_lists}
    fields = [_FIELDS[name][0] for name in plan.names if name in _FIELDS]
    if len(set(fields)) != len(fields) or not fixed_names.issuperset(_NO_PROCESSORS.intersection(plan.names)):
        return _LONG_WAY
    get = getters(plan)
    fixed: dict[str, Any] = {}
    varying: list[tuple[str, Callable[[Value], Any], Getter]] = []
    try:
        for name in plan.names:
            entry = _FIELDS.get(name)
            if entry is None:
                continue
            if name in fixed_names:
                fixed[entry[0]] = entry[1](fixed_values[name])
            else:
                varying.append((entry[0], entry[1], get[name]))
        fixed.update(_processors({n: fixed_values[n] for n in _PROCESSORS if n in fixed_values}))
    except ValueError:
        return _LONG_WAY
    extras = tuple((n, get[n]) for n in plan.names if n not in _FIELDS and n not in _NOT_EXTRA)
    return fixed, tuple(varying), extras, [_UNSEEN] * len(varying)


def _processors(ad: ClassAd) -> dict[str, Any]:
    if ad.keys().isdisjoint(_NO_PROCESSORS):
        return _ONE_PROCESSOR
    get = {n: _processor_count(ad[n]) for n in ("NumberOfProcessors", "MinNumberOfProcessors") if n in ad}
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
        high = _processor_count(high)
        if high < low:
            raise ValueError(f"MaxNumberOfProcessors {high} is less than MinNumberOfProcessors {low}")
    return {"min_processors": low, "max_processors": high}

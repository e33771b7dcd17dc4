"""Parametric jobs: one JDL that stands for N jobs, with DIRAC's ``Parameters`` semantics.

A parametric description declares *sequences* of N values:

* the default sequence, from ``Parameters``, ``ParameterStart``, ``ParameterStep`` and
  ``ParameterFactor``, written ``%s`` in the other attributes;
* a named sequence ``x``, from ``Parameters.x``, ``ParameterStart.x``, ... written ``%(x)s``.

``Parameters[.x]`` is the explicit list of values, or the number N. Without a list the values are
``v0 = Start`` (default 1) and ``v[i] = v[i-1] * Factor + Step`` (defaults 1 and 0); integers stay
integers and a float input gives floats. As in DIRAC, ``Parameters = 3`` creates the default
sequence (``[1, 1, 1]``) even beside named sequences. Every attribute whose name starts with
``Parameters`` counts towards N, and all must agree; any of them makes the description parametric
(DIRAC expands only when a plain ``Parameters`` exists, and otherwise leaves ``%(x)s`` in place).

Job ``n`` (0-based) gets every placeholder replaced, in strings and bare words, inside lists and
nested ads: ``%n`` by ``n`` zero-padded to the width of N-1 (12 jobs: ``00`` .. ``11``), ``%s`` and
``%(x)s`` by the sequences' values. The control attributes are removed; ``Parameter`` (and
``Parameter.x``) hold the job's values and ``ParameterNumber`` its index. ``%j``, the job ID, is
not known yet: :func:`substitute_job_id` replaces it once the ID is allocated.

Where DIRAC substitutes text, the substitution here is typed:

* in a quoted string a placeholder becomes the value's text (a list's or ad's JDL text);
* a bare word that is exactly ``%s`` or ``%(x)s`` becomes the value itself: ``CPUTime = %(cpu)s``
  gives an integer, and an item ``%(files)s`` whose value is a list is spliced into its list;
* any other bare word is re-read after substitution (:func:`~dirac_core.jdl.syntax.read_scalar`),
  as DIRAC's text substitution would give (``Seed = %n`` is an integer), and is kept as a quoted
  string when the result is no longer one word, so every expanded ad writes and parses back.

Values are inserted as written: placeholders inside them are not expanded again. A ``%`` that is
not a placeholder (``"50%"``, ``"%d"``, ``"%(x)d"``) is kept as written; no ``%``-formatting is
used.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

from dirac_core.errors import JDLError
from dirac_core.jdl.syntax import Bare, ClassAd, Value, dump_value, read_scalar

__all__ = ["expand", "parameter_count", "substitute_job_id"]

_PLACEHOLDER = re.compile(r"%(?:\((?P<name>[A-Za-z0-9_.]+)\)s|(?P<code>[ns]))")
_CONTROLS = ("Parameters", "ParameterStart", "ParameterStep", "ParameterFactor")
_INDEX = "%n"  # column key of the job index; sequence names never contain '%'
_DEFAULT = ""  # column key of the default sequence
_INT_BOUND = 1 << 63  # values beyond a 64-bit integer fit neither a ClassAd nor a database column

Render = Callable[[int], Value]


def _fail(message: str, **fields: object) -> JDLError:
    return JDLError(message, line=None, column=None, **fields)


def _length(name: str, value: Value) -> int:
    if isinstance(value, list):
        return len(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str | Bare) and str(value).strip().lstrip("+-").isdigit():
        return int(str(value))
    raise _fail(f"{name} must be a list or a whole number, got {value!r}", attribute=name)


def parameter_count(ad: ClassAd) -> int | None:
    """The number of jobs a parametric description stands for, or None when it is not parametric.

    Every attribute whose name starts with ``Parameters`` counts: a list gives its length, a
    scalar its integer value. Raises :class:`JDLError` when they disagree ("different lengths of
    parameter vectors"), when a scalar is not a whole number, or when the count is 0 or less.
    """
    count: int | None = None
    first = ""
    for name, value in ad.items():
        if not name.startswith("Parameters"):
            continue
        length = _length(name, value)
        if count is None:
            count, first = length, name
        elif length != count:
            raise _fail(f"different lengths of parameter vectors: {name} has {length}, {first} has {count}",
                        attribute=name)
    if count is not None and count <= 0:
        raise _fail(f"illegal number of job parameters: {first} gives {count}", attribute=first)
    return count


def _number(spec: dict[str, tuple[str, Value]], control: str, default: int) -> int | float:
    if control not in spec:
        return default
    name, value = spec[control]
    # a quoted "5" is a number to DIRAC's getAttributeInt, so it is one here too
    number = read_scalar(str(value).strip()) if isinstance(value, str | Bare) else value
    if not isinstance(number, int | float) or isinstance(number, bool):
        raise _fail(f"{name} must be a number, got {value!r}", attribute=name)
    if isinstance(number, float) and not math.isfinite(number):
        raise _fail(f"{name} must be a finite number, got {value!r}", attribute=name)
    return number


def _generate(key: str, spec: dict[str, tuple[str, Value]], count: int) -> list[Value]:
    start = _number(spec, "ParameterStart", 1)
    step = _number(spec, "ParameterStep", 0)
    factor = _number(spec, "ParameterFactor", 1)
    # as DIRAC does: the first value already has the type the step and factor give the others
    value = start * type(factor)(1) + type(step)(0)
    # the type is settled by the first value: check the bound that fits it, once per value
    bound = math.inf if isinstance(value, float) else _INT_BOUND
    values: list[Value] = []
    for _ in range(count):
        if not -bound < value < bound:  # also false for NaN
            shown = f"sequence {key!r}" if key else "the default sequence"
            raise _fail(f"{shown} overflows after {len(values)} values")
        values.append(value)
        value = value * factor + step
    return values


def _sequences(ad: ClassAd, count: int) -> dict[str, list[Value]]:
    """Sequence key ("" for the default) -> its ``count`` values, in the order first written."""
    specs: dict[str, dict[str, tuple[str, Value]]] = {}
    for name, value in ad.items():
        control, dot, key = name.partition(".")
        if control in _CONTROLS:
            if dot and not key:
                raise _fail(f"{name}: a named sequence needs a name after the '.'", attribute=name)
            specs.setdefault(key, {})[control] = (name, value)
        elif name.startswith(_CONTROLS):
            raise _fail(f"{name!r} is not a parametric attribute: write Parameters, ParameterStart, "
                        f"ParameterStep or ParameterFactor, optionally with '.<sequence name>'",
                        attribute=name)
    sequences: dict[str, list[Value]] = {}
    for key, spec in specs.items():
        listed = spec.get("Parameters", ("", None))[1]
        # an explicit list wins over Start/Step/Factor, as in DIRAC
        sequences[key] = list(listed) if isinstance(listed, list) else _generate(key, spec, count)
    return sequences


def _text(value: Value) -> str:
    if type(value) is int:
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Bare):
        return value.text
    return dump_value(value)


class _Columns:
    """Per-job values of every placeholder, computed once for all jobs."""

    def __init__(self, sequences: dict[str, list[Value]], count: int) -> None:
        width = len(str(count - 1))
        self.sequences = sequences
        self.texts: dict[str, list[str]] = {_INDEX: [str(n).zfill(width) for n in range(count)]}

    def key(self, m: re.Match[str], where: str) -> str:
        if m.group("code") == "n":
            return _INDEX
        key = _DEFAULT if m.group("code") == "s" else m.group("name")
        if key not in self.sequences:
            what = "default sequence (Parameters, ParameterStart, ...)" if key == _DEFAULT \
                else f"sequence {key!r} (Parameters.{key}, ParameterStart.{key}, ...)"
            raise _fail(f"{where} uses {m.group()} but the job has no {what}",
                        attribute=where, placeholder=m.group())
        return key

    def text(self, key: str) -> list[str]:
        if key not in self.texts:
            self.texts[key] = [_text(v) for v in self.sequences[key]]
        return self.texts[key]


def _compile_text(text: str, columns: _Columns, where: str) -> Callable[[int], str] | None:
    fmt: list[str] = []
    cols: list[list[str]] = []
    last = 0
    for m in _PLACEHOLDER.finditer(text):
        fmt.append(text[last:m.start()].replace("{", "{{").replace("}", "}}"))
        fmt.append("{}")
        cols.append(columns.text(columns.key(m, where)))
        last = m.end()
    if not cols:
        return None
    fmt.append(text[last:].replace("{", "{{").replace("}", "}}"))
    template = "".join(fmt)
    if template == "{}":
        only = cols[0]
        return only.__getitem__
    if len(cols) == 1:
        one = cols[0]
        return lambda n: template.format(one[n])
    return lambda n: template.format(*[c[n] for c in cols])


def _whole(text: str, columns: _Columns, where: str) -> list[Value] | None:
    """The values of the sequence when ``text`` is exactly ``%s`` or ``%(x)s``."""
    m = _PLACEHOLDER.fullmatch(text)
    if m is None or m.group("code") == "n":
        return None
    return columns.sequences[columns.key(m, where)]


def _compile(value: Value, columns: _Columns, where: str) -> Render | None:
    """A function of the job index giving ``value`` with its placeholders replaced, or None if it has none."""
    if isinstance(value, str):
        return _compile_text(value, columns, where)
    if isinstance(value, Bare):
        return _compile_word(value.text, columns, where)
    if isinstance(value, list):
        return _compile_list(value, columns, where)
    if isinstance(value, dict):
        parts = [(k, v, _compile(v, columns, where)) for k, v in value.items()]
        if all(r is None for _, _, r in parts):
            return None
        return lambda n: {k: v if r is None else r(n) for k, v, r in parts}
    return None


def _compile_word(word: str, columns: _Columns, where: str) -> Render | None:
    whole = _whole(word, columns, where)
    if whole is not None:
        return whole.__getitem__  # the value itself, typed
    text = _compile_text(word, columns, where)
    return None if text is None else lambda n: read_scalar(text(n))


def _compile_list(items: list[Value], columns: _Columns, where: str) -> Render | None:
    compiled = [_compile(item, columns, where) for item in items]
    if all(r is None for r in compiled):
        return None
    parts = list(zip(items, compiled, strict=True))
    spliced = [isinstance(item, Bare) and _whole(item.text, columns, where) is not None for item in items]
    if not any(spliced):
        return lambda n: [item if r is None else r(n) for item, r in parts]

    def render(n: int) -> list[Value]:
        out: list[Value] = []
        for (item, r), splice in zip(parts, spliced, strict=True):
            value = item if r is None else r(n)
            if splice and isinstance(value, list):
                out.extend(value)  # `{ %(files)s }` with a list value: its items, not a nested list
            else:
                out.append(value)
        return out
    return render


def expand(ad: ClassAd, *, limit: int) -> list[ClassAd]:
    """The jobs a parametric description stands for, in order; ``[ad]`` itself when it is not parametric.

    The count is checked first: more than ``limit`` jobs raises :class:`JDLError` (with ``count``
    and ``limit``) before anything is expanded. A placeholder naming no sequence, a malformed
    ``Parameter*`` attribute or the errors of :func:`parameter_count` raise :class:`JDLError` too,
    before any job is built.

    ``ad`` is not modified. Each job is a new dict, and so is every list or nested ad in which a
    placeholder was replaced; the other values, constant lists included, are shared with ``ad``
    and between the jobs (copying them would double the cost of a large expansion): replace a
    value rather than change it in place.
    """
    count = parameter_count(ad)
    if count is None:
        return [ad]
    if count > limit:
        raise _fail(f"the parametric job gives {count} jobs, more than the limit of {limit}",
                    count=count, limit=limit)
    sequences = _sequences(ad, count)
    columns = _Columns(sequences, count)
    base: ClassAd = {}
    renders: list[tuple[str, Render]] = []
    for name, value in ad.items():
        if name.partition(".")[0] in _CONTROLS:
            continue
        base[name] = value
        render = _compile(value, columns, name)
        if render is not None:
            renders.append((name, render))
    outputs = [("Parameter" + (f".{key}" if key else ""), values) for key, values in sequences.items()]
    return [_job(n, base, renders, outputs) for n in range(count)]


def _job(n: int, base: ClassAd, renders: Sequence[tuple[str, Render]],
         outputs: Sequence[tuple[str, list[Value]]]) -> ClassAd:
    job = base.copy()
    for name, render in renders:
        job[name] = render(n)
    for name, values in outputs:
        job[name] = values[n]
    job["ParameterNumber"] = n
    return job


def _with_job_id(value: Value, job_id: str) -> Value:
    """``value`` with ``%j`` replaced; the same object when it holds no ``%j``."""
    if isinstance(value, str):
        return value.replace("%j", job_id) if "%j" in value else value
    if isinstance(value, Bare):
        return read_scalar(value.text.replace("%j", job_id)) if "%j" in value.text else value
    if isinstance(value, list):
        items = [_with_job_id(v, job_id) for v in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    if isinstance(value, dict):
        ad = {k: _with_job_id(v, job_id) for k, v in value.items()}
        return value if all(ad[k] is v for k, v in value.items()) else ad
    return value


def substitute_job_id(ad: ClassAd, job_id: int) -> ClassAd:
    """A new ad: ``ad`` with every ``%j`` replaced by ``job_id``, in strings and bare words at any depth.

    A bare word that becomes a number is read as one (``JobNumber = %j`` gives an integer), as in
    :func:`expand`. ``ad`` is not modified; values without ``%j`` are shared with it, as in
    :func:`expand`.
    """
    text = str(job_id)
    return {name: _with_job_id(value, text) for name, value in ad.items()}

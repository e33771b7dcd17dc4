"""DIRAC's ClassAd JDL: a tokenizer, a parser and a writer.

Grammar (what DIRAC's clients write, without their quoting bugs)::

    ad      := "[" [ attr { ";" attr } [ ";" ] ] "]"      (the brackets may be omitted at top level)
    attr    := NAME "=" value
    value   := STRING | NUMBER | "true" | "false" | list | ad | BAREWORD
    list    := "{" [ value { "," value } [ "," ] ] "}"

Strings are double-quoted with ``\\"``, ``\\\\``, ``\\n`` and ``\\t`` escapes; a
``;`` or spaces inside quotes are data. Comments run from ``#`` or ``//`` to the
end of the line, or between ``/*`` and ``*/``. A bare word (``JobName = Name;``,
as DIRAC's Job API writes scalars) is kept as a :class:`Bare` value so that it
round-trips unchanged. Errors raise :class:`~dirac_core.errors.JDLError` with
1-based ``line`` and ``column``.

:func:`parse` tries the fast path of :mod:`~dirac_core.jdl.flat` first (flat
machine-written text), which gives the same result or steps aside for the careful
parser here. :func:`dump_value` and :func:`read_scalar` write one value and read
one word, for the parametric expansion.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple

from dirac_core.errors import JDLError
from dirac_core.jdl.flat import parse_flat
from dirac_core.jdl.values import Bare, ClassAd, Value, number, word_value

__all__ = ["Bare", "ClassAd", "Value", "dump", "dump_lines", "dump_pairs", "dump_value", "parse",
           "read_scalar"]

_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<comment>\#[^\n]*|//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<badstring>"[^\n]*)
  | (?P<number>[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.:/-]))
  | (?P<punct>[\[\]{}=;,])
  | (?P<word>[^\s\[\]{}=;,"]+)
""", re.VERBOSE | re.DOTALL)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")  # used with fullmatch
# names checked once by dump(): real descriptions use a few dozen; the bound keeps odd callers in check
_VALID_NAMES: set[str] = set()
_MAX_VALID_NAMES = 4096
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n", "t": "\t"}
#: How deep lists and ads may nest (real descriptions: 2 or 3); deeper text is refused with a
#: JDLError rather than exhausting Python's recursion limit (a request body can hold 10 MB of '[').
MAX_NESTING = 64


class _Tok(NamedTuple):
    kind: str
    text: str
    line: int
    column: int


def _tokens(text: str) -> Iterator[_Tok]:
    pos, line, line_start = 0, 1, 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:  # pragma: no cover - the word alternative matches anything else
            raise JDLError(f"unexpected character {text[pos]!r}", line=line, column=pos - line_start + 1)
        kind = m.lastgroup or ""
        column = pos - line_start + 1
        if kind == "badstring":
            raise JDLError(f"string opened with \" is not closed on its line "
                           f"(line {line}, column {column})", line=line, column=column)
        if kind not in ("ws", "comment"):
            yield _Tok(kind, m.group(), line, column)
        newlines = m.group().count("\n")
        if newlines:
            line += newlines
            line_start = pos + m.group().rindex("\n") + 1
        pos = m.end()
    yield _Tok("end", "", line, pos - line_start + 1)


class _Parser:
    def __init__(self, text: str) -> None:
        self.toks = list(_tokens(text))
        self.i = 0
        self.depth = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i = min(self.i + 1, len(self.toks) - 1)
        return tok

    def fail(self, tok: _Tok, what: str) -> JDLError:
        found = "end of text" if tok.kind == "end" else repr(tok.text)
        return JDLError(f"{what}, found {found} (line {tok.line}, column {tok.column})",
                        line=tok.line, column=tok.column)

    def expect(self, text: str) -> _Tok:
        tok = self.take()
        if tok.text != text or tok.kind not in ("punct",):
            raise self.fail(tok, f"expected {text!r}")
        return tok

    def document(self) -> ClassAd:
        bracketed = self.peek().text == "["
        ad = self.ad() if bracketed else self.body(closing=None)
        tok = self.peek()
        if tok.kind != "end":
            raise self.fail(tok, "expected end of text after the closing ']'")
        return ad

    def ad(self) -> ClassAd:
        self.expect("[")
        ad = self.body(closing="]")
        self.expect("]")
        return ad

    def body(self, closing: str | None) -> ClassAd:
        ad: ClassAd = {}
        while True:
            tok = self.peek()
            if (closing is not None and tok.text == closing and tok.kind == "punct") or tok.kind == "end":
                return ad
            name_tok = self.take()
            if name_tok.kind != "word" or not _NAME.fullmatch(name_tok.text):
                raise self.fail(name_tok, "expected an attribute name")
            if name_tok.text in ad:
                raise JDLError(f"attribute {name_tok.text!r} is given twice "
                               f"(line {name_tok.line}, column {name_tok.column})",
                               line=name_tok.line, column=name_tok.column, attribute=name_tok.text)
            self.expect("=")
            ad[name_tok.text] = self.value()
            sep = self.peek()
            if sep.text == ";" and sep.kind == "punct":
                self.take()
            elif not ((closing is not None and sep.text == closing) or sep.kind == "end"):
                raise self.fail(sep, f"expected ';' after the value of {name_tok.text!r}")

    def value(self) -> Value:
        tok = self.peek()
        if tok.kind == "punct" and tok.text in ("[", "{"):
            if self.depth >= MAX_NESTING:
                raise self.fail(tok, f"values nested more than {MAX_NESTING} levels deep")
            self.depth += 1
            try:
                return self.ad() if tok.text == "[" else self.list()
            finally:
                self.depth -= 1
        self.take()
        if tok.kind == "string":
            return _unquote(tok)
        if tok.kind == "number":
            return number(tok.text)
        if tok.kind == "word":
            return word_value(tok.text)
        raise self.fail(tok, "expected a value")

    def list(self) -> list[Value]:
        self.expect("{")
        items: list[Value] = []
        while not (self.peek().kind == "punct" and self.peek().text == "}"):
            if self.peek().kind == "end":
                raise self.fail(self.peek(), "list opened with '{' is not closed by '}'")
            items.append(self.value())
            sep = self.peek()
            if sep.kind == "punct" and sep.text == ",":
                self.take()
            elif not (sep.kind == "punct" and sep.text == "}"):
                raise self.fail(sep, "expected ',' or '}' in a list")
        self.expect("}")
        return items


def _unquote(tok: _Tok) -> str:
    body = tok.text[1:-1]
    out, i = [], 0
    while i < len(body):
        ch = body[i]
        if ch == "\\":
            nxt = body[i + 1]
            if nxt not in _ESCAPES:
                column = tok.column + i + 1
                raise JDLError(f"unknown escape \\{nxt} in a string (line {tok.line}, column {column})",
                               line=tok.line, column=column)
            out.append(_ESCAPES[nxt])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def parse(text: str) -> ClassAd:
    """Parse JDL text into a :data:`ClassAd` (a dict in the written order).

    Raises :class:`JDLError` with ``line`` and ``column`` for any syntax error,
    a duplicated attribute, or an empty description.
    """
    flat = parse_flat(text)
    if flat is not None:
        return flat
    ad = _Parser(text).document()
    if not ad:
        raise JDLError("the job description has no attributes (line 1, column 1)", line=1, column=1)
    return ad


def _quote(text: str) -> str:
    if "\\" in text or '"' in text or "\n" in text or "\t" in text:
        text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{text}"'


def _dump_value(value: Value, indent: int) -> str:
    # exact types first: the common cases, without the isinstance chain
    if type(value) is str:
        return _quote(value)
    if type(value) is list:
        return _dump_list(value, indent)
    if type(value) is int:
        return repr(value)
    if type(value) is Bare:
        return value.text
    return _dump_other(value, indent)


def _dump_other(value: Value, indent: int) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        raise JDLError(f"JDL has no way to write {value!r}", line=0, column=0)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, Bare):
        return value.text
    if isinstance(value, str):
        return _quote(value)
    if isinstance(value, list):
        return _dump_list(value, indent)
    if isinstance(value, dict):
        return _dump_ad(value, indent + 1)
    raise TypeError(f"cannot write {type(value).__name__} as JDL")


def _dump_list(items: Sequence[Value], indent: int) -> str:
    if not items:
        return "{}"
    if type(items[0]) is str:  # most lists hold strings only: one join checks them all
        try:
            joined = "\0".join(items)  # type: ignore[arg-type]  # TypeError unless every item is a str
        except TypeError:
            pass
        else:
            if "\\" in joined or '"' in joined or "\n" in joined or "\t" in joined:
                return "{ " + ", ".join([_quote(v) for v in items]) + " }"  # type: ignore[arg-type]
            return '{ "' + '", "'.join(items) + '" }'  # type: ignore[arg-type]
    return "{ " + ", ".join([_dump_value(v, indent) for v in items]) + " }"


def _dump_ad(ad: ClassAd, indent: int) -> str:
    if not ad:
        return "[\n\n" + "    " * indent + "]"
    pad = "    " * (indent + 1)
    lines = [f"{pad}{name} = {_dump_value(value, indent)};\n" for name, value in ad.items()]
    return "[\n" + "".join(lines) + "    " * indent + "]"


def dump_value(value: Value) -> str:
    """Write one value as JDL text (a nested ad spans several lines).

    Raises :class:`JDLError` for a non-finite float and ``TypeError`` for a
    Python object that is not a JDL value.
    """
    return _dump_value(value, 0)


def read_scalar(text: str) -> Value:
    """Read ``text`` as one unquoted JDL token, as a parser would after text substitution.

    A number gives an int or float, ``true``/``false`` a bool, any other single
    word a :class:`Bare`; text that is not exactly one such token (spaces,
    quotes, ``;``, a comment ...) is returned as the string itself, so that
    writing the result never gives JDL that reads back differently.
    """
    m = _TOKEN.match(text)
    if m is None or m.end() != len(text):
        return text
    if m.lastgroup == "number":
        return number(text)
    if m.lastgroup == "word":
        return word_value(text)
    return text


def dump(ad: ClassAd) -> str:
    """Write ``ad`` as JDL text; ``parse(dump(ad)) == ad`` for every parsed ad."""
    _check_names(ad)
    return _dump_ad(ad, 0) + "\n"


def dump_lines(ad: ClassAd) -> str:
    """The attribute lines ``dump`` writes for ``ad`` between its brackets (for a writer that
    writes some lines itself); the same errors."""
    _check_names(ad)
    return "".join([f"    {name} = {_dump_value(value, 0)};\n" for name, value in ad.items()])


def dump_pairs(pairs: Iterable[tuple[str, Value | Sequence[Value]]]) -> str:
    """The lines ``dump`` writes for these attributes, a tuple written as a list; each name must
    be a valid attribute name (not checked). For a writer of typed fields (``JobDescription``)."""
    lines: list[str] = []
    append = lines.append
    for name, value in pairs:
        kind = type(value)
        if kind is str:
            append(f"    {name} = {_quote(value)};\n")  # type: ignore[arg-type]
        elif kind is tuple or kind is list:
            append(f"    {name} = {_dump_list(value, 0)};\n")  # type: ignore[arg-type]
        elif kind is int:
            append(f"    {name} = {value};\n")
        else:
            append(f"    {name} = {_dump_value(value, 0)};\n")  # type: ignore[arg-type]
    return "".join(lines)


def _check_names(ad: ClassAd) -> None:
    if not ad.keys() <= _VALID_NAMES:
        for name in ad:
            if not _NAME.fullmatch(name):
                raise JDLError(f"invalid attribute name {name!r}", line=0, column=0, attribute=name)
            if len(_VALID_NAMES) < _MAX_VALID_NAMES:
                _VALID_NAMES.add(name)

"""The values a JDL holds: strings, numbers, booleans, bare words, lists and nested ads.

Shared by the careful parser (:mod:`~dirac_core.jdl.syntax`) and the flat fast path
(:mod:`~dirac_core.jdl.flat`), so that both read numbers and words the same way.
"""

from __future__ import annotations

import re
from typing import Union

from attrs import frozen

__all__ = ["NUMBER", "Bare", "ClassAd", "Value", "number", "word_value"]


@frozen
class Bare:
    """An unquoted word (``Name``, ``LCG.CERN.ch``, ``other.Requirements``)."""

    text: str

    def __str__(self) -> str:
        return self.text


#: A JDL value; a recursive alias, so written with Union (a forward reference in ``|`` fails at run time).
Value = Union[str, int, float, bool, Bare, list["Value"], "ClassAd"]
#: A parsed ClassAd: attribute names to values, in the order written.
ClassAd = dict[str, Value]

#: A number token; the look-ahead makes ``1.2.3``, ``5x`` or ``10:00`` words, not numbers.
NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.:/-])")


def number(text: str) -> int | float:
    """The value of a :data:`NUMBER` token: a float when it has a point or an exponent, else an int."""
    return float(text) if "." in text or "e" in text or "E" in text else int(text)


def word_value(text: str) -> bool | Bare:
    """The value of a word token that is not a number: ``true``/``false`` (any case) or a :class:`Bare`."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    return Bare(text)

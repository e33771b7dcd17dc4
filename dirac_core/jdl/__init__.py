"""Job descriptions in DIRAC's JDL (ClassAd) syntax.

``loads`` and ``dumps`` work in the manner of :mod:`json`: JDL text to a validated
:class:`JobDescription`, and a description (or a raw :data:`ClassAd`, or a :class:`Job`
builder) back to text. :func:`parse` and :func:`dump` are the untyped layer beneath;
:func:`expand` turns a parametric description into its jobs.
"""

from __future__ import annotations

from dirac_core.jdl.builder import Job
from dirac_core.jdl.description import JobDescription, from_classad, from_text
from dirac_core.jdl.parametric import expand, parameter_count, substitute_job_id
from dirac_core.jdl.syntax import Bare, ClassAd, Value, dump, parse

__all__ = [
    "Bare", "ClassAd", "Job", "JobDescription", "Value", "dump", "dumps", "expand", "from_classad", "loads",
    "parameter_count", "parse", "substitute_job_id",
]


def loads(text: str) -> JobDescription:
    """Parse and validate JDL text into a :class:`JobDescription` (``JobDescription.from_jdl``).

    Raises :class:`~dirac_core.errors.JDLError`: with ``line`` and ``column`` for a syntax
    error, with ``problems`` listing every invalid attribute otherwise.
    """
    return from_text(text)


def dumps(obj: JobDescription | ClassAd | Job) -> str:
    """JDL text for a description, a raw ClassAd or a job builder; ``loads(dumps(d)) == d``.

    A :class:`JobDescription` is written with its defaults spelled out; a ClassAd and a
    :class:`Job` as they are, without validation. Raises :class:`~dirac_core.errors.JDLError`
    for an invalid attribute name or a non-finite number, and ``TypeError`` for anything else.
    """
    if isinstance(obj, JobDescription):
        return obj.to_jdl()
    if isinstance(obj, Job):
        return obj.to_jdl()
    if isinstance(obj, dict):
        return dump(obj)
    raise TypeError(f"dumps() takes a JobDescription, a ClassAd or a Job, not {type(obj).__name__}")

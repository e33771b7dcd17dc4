"""Job descriptions in DIRAC's JDL (ClassAd) syntax."""

from __future__ import annotations

from dirac_core.jdl.builder import Job
from dirac_core.jdl.description import JobDescription, from_classad
from dirac_core.jdl.syntax import Bare, ClassAd, Value, dump, parse

__all__ = ["Bare", "ClassAd", "Job", "JobDescription", "Value", "dump", "from_classad", "parse"]

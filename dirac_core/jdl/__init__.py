"""Job descriptions in DIRAC's JDL (ClassAd) syntax."""

from __future__ import annotations

from dirac_core.jdl.description import JobDescription, from_classad
from dirac_core.jdl.syntax import Bare, ClassAd, Value, dump, parse

__all__ = ["Bare", "ClassAd", "JobDescription", "Value", "dump", "from_classad", "parse"]

"""xRSL job descriptions of ARC pilots.

Each pilot is one ARC job described in xRSL (NorduGrid's RSL dialect, which
every A-REX accepts, also through REST with ``Content-Type: application/rsl``).
The pilot script is *not* inlined: it is declared as an input file the client
uploads (``inputfiles=("pilot.sh" "")``), and the submitter PUTs it into the
job's session directory right after creation; A-REX holds the job in
PREPARING until then. The script is the job's executable, so its ``#!`` line
chooses the interpreter.

Standard output and error go to ``pilot.out`` and ``pilot.err``, both listed
in ``outputfiles``: A-REX deletes every session file not listed there when
the job ends. The pilot stamp is passed as ``DIRAC_PILOT_STAMP`` (the pilot
reads it to report its reference). Several jobs are submitted at once as an
xRSL multi-request ``+(&...)(&...)``; A-REX answers with one entry per job, in
the same order.
"""

from __future__ import annotations

from collections.abc import Sequence

from attrs import field, frozen
from attrs import validators as v

__all__ = ["PILOT_ERR", "PILOT_OUT", "PILOT_SCRIPT", "PilotJob", "multi_xrsl", "xrsl_quote"]

#: session-directory names of the pilot script and of its standard output and error
PILOT_SCRIPT = "pilot.sh"
PILOT_OUT = "pilot.out"
PILOT_ERR = "pilot.err"


def xrsl_quote(value: str) -> str:
    """``value`` as an xRSL quoted string: in double quotes, a double quote doubled."""
    return '"' + value.replace('"', '""') + '"'


@frozen(kw_only=True)
class PilotJob:
    """What varies between the ARC jobs of pilots: the stamp, queue and size.

    ``extra`` is appended verbatim to the description (an ``ArcCE`` section's
    ``xrsl_extra``, e.g. ``(runtimeenvironment="ENV/SINGULARITY")``).
    ``processors`` > 1 asks for that many cores on one node.
    """

    stamp: str = field(validator=v.instance_of(str))
    queue: str | None = None
    processors: int = field(default=1, validator=v.ge(1))
    extra: str | None = None

    def xrsl(self) -> str:
        """The job's xRSL conjunction ``&(...)(...)``."""
        relations = [
            f"(executable={xrsl_quote(PILOT_SCRIPT)})",
            f"(inputfiles=({xrsl_quote(PILOT_SCRIPT)} \"\"))",
            f"(stdout={xrsl_quote(PILOT_OUT)})",
            f"(stderr={xrsl_quote(PILOT_ERR)})",
            f"(outputfiles=({xrsl_quote(PILOT_OUT)} \"\")({xrsl_quote(PILOT_ERR)} \"\"))",
            f"(jobname={xrsl_quote('DIRAC_' + self.stamp)})",
            f"(environment=({xrsl_quote('DIRAC_PILOT_STAMP')} {xrsl_quote(self.stamp)}))",
        ]
        if self.queue:
            relations.append(f"(queue={xrsl_quote(self.queue)})")
        if self.processors > 1:
            relations.append(f"(count={self.processors})(countpernode={self.processors})")
        if self.extra:
            relations.append(self.extra.strip())
        return "&" + "".join(relations)


def multi_xrsl(jobs: Sequence[PilotJob]) -> str:
    """One xRSL document describing every job of ``jobs``, in order.

    A single job is a plain conjunction; several are a ``+`` multi-request.
    Raises ``ValueError`` for an empty sequence.
    """
    if not jobs:
        raise ValueError("no job to describe")
    if len(jobs) == 1:
        return jobs[0].xrsl()
    return "+" + "".join(f"({job.xrsl()})" for job in jobs)

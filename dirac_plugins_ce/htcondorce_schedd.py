"""The schedd an HTCondor-CE driver talks to: a small protocol and its HTCondor-bindings implementation.

:class:`ScheddClient` is the narrow surface the
:class:`~dirac_plugins_ce.htcondorce.HTCondorCEComputingElement` needs; it
takes and returns plain data (a submit description as a ``dict``, job ads as
mappings), so that tests can replay recorded answers without the bindings.
:class:`BindingsSchedd` implements it over ``htcondor2.Schedd`` (HTCondor 24
and later), imported on first use.

The bindings raise one exception class, ``htcondor2.HTCondorException``, for
every failure; :func:`translate_error` tells an unreachable daemon from a
refusal by its message, as HTCondor words them::

    Failed to connect to schedd, errmsg=CEDAR:6001:Failed to connect to <...>   (submit)
    Failed to fetch ads from schedd, errmsg=CEDAR:6001:Failed to connect ...   (query)
    DCSchedd::receiveJobSandbox:6001:Failed to connect to schedd               (retrieve)
    Failed communication with collector.                                       (locate)
    Unable to locate local daemon.                                             (no local schedd)
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any, Protocol, Self

from dirac_core.errors import CEError, CEUnreachable
from dirac_core.plugins.groups import PluginGroup
from dirac_core.plugins.loading import import_backend

__all__ = ["BindingsSchedd", "JobAd", "ScheddClient", "translate_error"]

#: A job ClassAd as the bindings return it (``classad2.ClassAd`` is a mapping).
JobAd = Mapping[str, Any]

#: The bindings' wording when a daemon does not answer (CEDAR error 6001 is "Failed to connect").
_UNREACHABLE = re.compile(r"failed to connect|failed communication with collector|unable to locate",
                          re.IGNORECASE)


class ScheddClient(Protocol):
    """What the HTCondor-CE driver asks of a schedd. Errors are raised as the bindings raise them."""

    def submit(self, description: Mapping[str, str], items: Sequence[Mapping[str, str]], *,
               spool: bool) -> list[str]:
        """Queue one job per item (its keys are submit variables); return the ``cluster.proc`` ids in order.

        With ``spool`` the input files are uploaded to the schedd, as ``condor_submit -spool`` does.
        """
        ...

    def query(self, constraint: str, projection: Sequence[str]) -> list[JobAd]:
        """The ads of the queued jobs matching ``constraint`` (``condor_q``)."""
        ...

    def history(self, constraint: str, projection: Sequence[str], *, match: int) -> list[JobAd]:
        """At most ``match`` ads of finished jobs matching ``constraint`` (``condor_history``)."""
        ...

    def remove(self, job_ids: Sequence[str]) -> JobAd:
        """Remove jobs (``condor_rm``); the answer counts them (``TotalSuccess``, ``TotalNotFound``, ...)."""
        ...

    def retrieve(self, job_ids: Sequence[str]) -> None:
        """Fetch spooled output files into the jobs' directories (``condor_transfer_data``)."""
        ...


def translate_error(exc: Exception, *, action: str, ce: str) -> CEError:
    """The :class:`CEError` (a :class:`CEUnreachable` when the daemon did not answer) for ``exc``.

    ``OSError`` and the bindings' connection messages mean unreachable;
    every other failure (a refused submit, a permission error) is a
    :class:`CEError` carrying HTCondor's message.
    """
    if isinstance(exc, CEError):
        return exc
    message = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) or _UNREACHABLE.search(message):
        return CEUnreachable(f"HTCondor-CE {ce}: cannot reach the schedd to {action}: {message}",
                             ce=ce, action=action)
    return CEError(f"HTCondor-CE {ce}: {action} failed: {message}", ce=ce, action=action)


class BindingsSchedd:
    """:class:`ScheddClient` over an ``htcondor2.Schedd``.

    Build it with :meth:`connect`; it raises
    :class:`~dirac_core.errors.PluginUnavailable` when the bindings are not
    installed, and the bindings' exception when the daemon cannot be found.
    """

    def __init__(self, schedd: Any, bindings: ModuleType) -> None:
        self._schedd = schedd
        self._htcondor = bindings

    @classmethod
    def connect(cls, *, host: str | None = None, port: int = 9619) -> Self:
        """This machine's schedd (``host`` None), or the CE's, located through its collector at host:port."""
        htcondor = import_backend("htcondor2", group=PluginGroup.COMPUTING_ELEMENTS, name="htcondorce")
        if host is None:
            return cls(htcondor.Schedd(), htcondor)
        location = htcondor.Collector(f"{host}:{port}").locate(htcondor.DaemonType.Schedd, host)
        return cls(htcondor.Schedd(location), htcondor)

    def make_submit(self, description: Mapping[str, str]) -> Any:
        """The ``htcondor2.Submit`` object for ``description``."""
        return self._htcondor.Submit(dict(description))

    def submit(self, description: Mapping[str, str], items: Sequence[Mapping[str, str]], *,
               spool: bool) -> list[str]:
        """Submit through ``Schedd.submit`` (itemdata), then ``Schedd.spool`` when spooling."""
        result = self._schedd.submit(self.make_submit(description), spool=spool,
                                     itemdata=iter([dict(item) for item in items]))
        if spool:
            self._schedd.spool(result)
        cluster, first = int(result.cluster()), int(result.first_proc())
        return [f"{cluster}.{first + i}" for i in range(int(result.num_procs()))]

    def query(self, constraint: str, projection: Sequence[str]) -> list[JobAd]:
        """``Schedd.query``."""
        return list(self._schedd.query(constraint=constraint, projection=list(projection)))

    def history(self, constraint: str, projection: Sequence[str], *, match: int) -> list[JobAd]:
        """``Schedd.history``."""
        return list(self._schedd.history(constraint=constraint, projection=list(projection), match=match))

    def remove(self, job_ids: Sequence[str]) -> JobAd:
        """``Schedd.act(JobAction.Remove, ids)``."""
        answer: JobAd | None = self._schedd.act(self._htcondor.JobAction.Remove, list(job_ids))
        return answer if answer is not None else {}

    def retrieve(self, job_ids: Sequence[str]) -> None:
        """``Schedd.retrieve``."""
        self._schedd.retrieve(list(job_ids))


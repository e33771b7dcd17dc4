"""Hook specifications: the points where every registered plugin is called.

Hooks differ from drivers: a driver is *one* implementation chosen by name,
a hook calls *all* implementations. Experiments use hooks to add checks and
reactions without replacing a component: refuse jobs that break a local
rule, bump priorities, publish events, react to new files.

Implementations are registered through the entry-point group ``dirac.hooks``
(an entry point naming a module or object with ``@hookimpl`` functions) or
passed to :func:`~dirac_core.plugins.manager.make_plugin_manager`. Argument
names are part of the contract: pluggy matches them by name, and an
implementation may accept any subset of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from dirac_core.rms.request import Operation, Request

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT = "dirac"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def dirac_validate_job(description: Mapping[str, Any], owner: str, group: str, vo: str) -> list[str]:
    """Check a job description before it is accepted.

    Return a list of problems (empty when the job is acceptable). Every
    implementation is called and all problems are reported together; any
    problem fails the job with those reasons.
    """
    raise NotImplementedError


@hookspec
def dirac_job_status_changed(job_ids: Sequence[int], status: str, minor_status: str,  # noqa: PLR0917
                             timestamp: datetime, source: str, previous: Mapping[int, str]) -> None:
    """Jobs moved to ``status``; called after the change is committed.

    ``previous`` maps each job id to the status it left. For notification
    (message queues, accounting, monitoring); the return value is ignored and
    an exception is logged, never propagated into the state change that
    already happened.
    """


@hookspec(firstresult=True)
def dirac_match_priority(job: Mapping[str, Any], resource: Mapping[str, Any],
                         priority: float) -> float | None:
    """Adjust the priority of a candidate job for a matching resource.

    The first implementation that returns a number wins; ``None`` passes.
    """


@hookspec
def dirac_pilot_event(pilot_stamp: str, event: str, details: Mapping[str, Any]) -> None:
    """Something happened to a pilot; called after it is stored.

    ``event`` is ``"registered"`` (details: the pilot's record: ``vo``, ``status``,
    ``destination_site``, ``queue``, ``grid_type``, ``grid_site``, ``pilot_reference``, and
    ``time``), ``"started"`` (now Running) or ``"ended"`` (a final status) (details: ``vo``,
    ``status``, ``previous_status``, ``reason``, ``time``, ``previous_update``,
    ``submission_time``); other events may come, so ignore unknown ones. For notification: an
    exception is logged, never propagated.
    """


@hookspec
def dirac_file_registered(lfns: Sequence[str], metadata: Mapping[str, Mapping[str, Any]]) -> None:
    """New files were registered in the catalog (transformations attach them here)."""


@hookspec
def dirac_transfer_done(lfns: Sequence[str], source: str, target: str, third_party: bool) -> None:
    """Files were copied from the storage element ``source`` to ``target`` and registered there.

    ``third_party`` is True when the target's storage copied them from the source itself
    (XRootD or HTTP third-party copy, an S3 server-side copy, a copy between file systems of
    this machine), False when they went through a scratch file (download, then upload).
    Implementations written before ``third_party`` existed keep working: pluggy passes each
    implementation only the arguments it names.
    """


@hookspec
def dirac_data_operation(operation: str, lfns: Sequence[str], source: str, target: str,  # noqa: PLR0917
                         size: int, seconds: float, error: str | None) -> None:
    """The data manager moved files, or failed to (accounting and monitoring).

    ``operation`` is ``Upload`` (local disk to ``target``), ``Replication`` (``source`` to
    ``target``) or ``Download`` (``source`` to local disk); an empty name is local disk (or, for
    a failure, an SE not chosen yet). ``size`` is the bytes moved, ``seconds`` how long it took,
    ``error`` None on success, else why it failed. The return value is ignored and an exception
    is logged, never propagated into the data manager.
    """


@hookspec
def dirac_request_done(request: Request) -> None:
    """The request executor put back ``request`` in a final status (Done, Failed or Canceled).

    Called after the request is stored (and, for a request of a job, after the job was
    finalized); ``request`` is the whole :class:`~dirac_core.rms.request.Request`, its
    ``status`` and ``error`` final. For notification: the return value is ignored and an
    exception is logged, never propagated into the executor.
    """


@hookspec
def dirac_request_operation(request: Request, operation: Operation) -> bool | None:
    """Carry out a ``CallHook`` operation of ``request`` (its ``arguments`` say what to do).

    Return True when the work is done, False to be called again in a later cycle (raising
    counts as False, the exception kept as the operation's error), None when the operation is
    not for this implementation. The operation is Done when some implementation returns True
    and none returns False or raises. Called from the executor's worker threads.
    """


@hookspec(firstresult=True)
def dirac_periodic_task(name: str) -> Any:
    """One run of a periodic task (site director cycle, stalled-job scan, ...).

    The scheduler supplies the implementation that runs the task (through
    ``call_extra``); plugins implement this hook only as wrappers
    (``@hookimpl(wrapper=True)``) that ``yield`` to run the task and may time
    it, trace it or count its failures, returning the result they received.
    """
    raise NotImplementedError

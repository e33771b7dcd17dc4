"""The hook implementations that turn the interware's events into messages.

:class:`MessagingHooks` implements ``dirac_job_status_changed``, ``dirac_pilot_event``,
``dirac_file_registered``, ``dirac_transfer_done`` and ``dirac_request_done``: each builds the
message (:mod:`dirac_core.messaging.messages`) and hands it to the publisher, which returns at
once. Nothing here raises into the engine that called the hook: a failure is logged, the job, the
pilot or the transfer goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from dirac_core.config.messaging import Destinations
from dirac_core.db.chunks import ids_in
from dirac_core.db.database import Database
from dirac_core.db.tables.wms import jobs
from dirac_core.messaging import messages
from dirac_core.messaging.messages import MessageKind
from dirac_core.model.clock import Clock
from dirac_core.plugins.hookspecs import hookimpl

if TYPE_CHECKING:
    from dirac_core.rms.request import Request

__all__ = ["MessagingHooks", "job_vos"]

log = logging.getLogger(__name__)

#: the pilot events that become messages (``pilot.<event>``)
_PILOT_EVENTS = frozenset({"registered", "started", "ended"})

#: publishes one message to the destination of its kind
Publish = Callable[[MessageKind, Mapping[str, Any]], bool]


def job_vos(database: Database, job_ids: Sequence[int]) -> dict[int, str]:
    """The VO of each job (jobs that do not exist are left out): one indexed read."""
    out: dict[int, str] = {}
    with database.begin(read_only=True) as conn:
        for where in ids_in(conn, jobs.c.job_id, list(job_ids)):
            out.update((int(i), str(vo)) for i, vo in conn.execute(select(jobs.c.job_id, jobs.c.vo)
                                                                    .where(where)))
    return out


class MessagingHooks:
    """Publishes the interware's events (see the module's text); registered in its hook manager."""

    def __init__(self, publish: Publish, destinations: Destinations, *, clock: Clock,
                 vos_of_jobs: Callable[[Sequence[int]], Mapping[int, str]]) -> None:
        self._publish = publish
        self._destinations = destinations
        self._clock = clock
        self._vos_of_jobs = vos_of_jobs

    def _wanted(self, kind: MessageKind) -> bool:
        return bool(getattr(self._destinations, kind.value))

    @hookimpl
    def dirac_job_status_changed(self, job_ids: Sequence[int], status: str,  # noqa: PLR0917 - pluggy's
                                 minor_status: str, timestamp: datetime, source: str,  # names, see spec
                                 previous: Mapping[int, str]) -> None:
        if not job_ids or not self._wanted(MessageKind.JOB_STATUS):
            return
        try:
            try:
                vos = self._vos_of_jobs(job_ids)
            except Exception as exc:  # the message goes out without its VO rather than not at all
                log.warning("VO of jobs %s not found for their messages: %s", list(job_ids)[:10], exc)
                vos = {}
            by_vo: dict[str, list[int]] = {}
            for job_id in job_ids:
                by_vo.setdefault(vos.get(job_id, ""), []).append(job_id)
            for vo, ids in by_vo.items():
                self._publish(MessageKind.JOB_STATUS, messages.job_status(
                    job_ids=ids, vo=vo, status=status, minor_status=minor_status, old_status=previous,
                    source=source, time=timestamp))
        except Exception:
            log.exception("job status message for jobs %s not published", list(job_ids)[:10])

    @hookimpl
    def dirac_pilot_event(self, pilot_stamp: str, event: str, details: Mapping[str, Any]) -> None:
        if not self._wanted(MessageKind.PILOT_EVENT):
            return
        if event not in _PILOT_EVENTS:
            log.debug("pilot event %r of %s has no message", event, pilot_stamp)
            return
        try:
            when = details.get("time")
            self._publish(MessageKind.PILOT_EVENT, messages.pilot_event(
                pilot_stamp=pilot_stamp, event=event, details=details,
                time=when if isinstance(when, datetime) else self._clock.now()))
        except Exception:
            log.exception("pilot %s: %s message not published", pilot_stamp, event)

    @hookimpl
    def dirac_file_registered(self, lfns: Sequence[str], metadata: Mapping[str, Mapping[str, Any]]) -> None:
        if not lfns or not self._wanted(MessageKind.DATA_OPERATION):
            return
        try:
            for message in messages.data_registered(lfns=lfns, metadata=metadata, time=self._clock.now()):
                self._publish(MessageKind.DATA_OPERATION, message)
        except Exception:
            log.exception("registration message for %s not published", list(lfns)[:10])

    @hookimpl
    def dirac_transfer_done(self, lfns: Sequence[str], source: str, target: str, third_party: bool) -> None:
        if not lfns or not self._wanted(MessageKind.DATA_OPERATION):
            return
        try:
            for message in messages.data_replicated(lfns=lfns, source=source, target=target,
                                                    third_party=third_party, time=self._clock.now()):
                self._publish(MessageKind.DATA_OPERATION, message)
        except Exception:
            log.exception("replication message for %s not published", list(lfns)[:10])

    @hookimpl
    def dirac_request_done(self, request: Request) -> None:
        if not self._wanted(MessageKind.REQUEST_DONE):
            return
        try:
            self._publish(MessageKind.REQUEST_DONE, messages.request_done(request, time=self._clock.now()))
        except Exception:
            log.exception("request %s: message not published", request.request_id)

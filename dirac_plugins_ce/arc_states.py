"""ARC job states and how they become :class:`~dirac_core.model.pilot.PilotStatus`.

A-REX knows a job's state twice:

- the **REST state** (:class:`ArcState`, ``POST jobs?action=status``), the
  EMI-ES/GLUE2 view with the LRMS detail (QUEUING vs RUNNING) and the outcome
  (FINISHED, FAILED, KILLED), but only as fresh as the last info-provider run
  (60 s by default);
- the **internal state** (:class:`ArcInternalState`, ``GET
  jobs/<id>/diagnose/status``), immediate but coarse: INLRMS covers queued
  and running, FINISHED covers success, failure and cancellation (the
  ``diagnose/failed`` text tells them apart).

:func:`pilot_status` combines both so that a report never goes backwards
(the pilot transition table refuses Running -> Waiting): a final REST state
is believed as is; otherwise the internal state decides, except that INLRMS
is Running only once the REST state has seen the job start.

REST mapping (DIRAC's): ACCEPTING, ACCEPTED, PREPARING, PREPARED, SUBMITTING,
QUEUING -> Waiting; RUNNING, HELD, EXITINGLRMS, OTHER, EXECUTED, FINISHING ->
Running; FINISHED -> Done; FAILED -> Failed; KILLING, KILLED, WIPED -> Aborted.
"""

from __future__ import annotations

from enum import StrEnum

from dirac_core.model.pilot import PilotStatus

__all__ = [
    "CANCELED_MARK",
    "INTERNAL_TO_PILOT",
    "REST_TO_PILOT",
    "ArcInternalState",
    "ArcState",
    "parse_internal_state",
    "parse_rest_state",
    "pilot_status",
]

#: the text A-REX writes into ``diagnose/failed`` for a job cancelled through its interfaces
CANCELED_MARK = "canceled by external request"


class ArcState(StrEnum):
    """A job state of the ARC REST interface 1.0 (``jobs?action=status``)."""

    ACCEPTING = "ACCEPTING"
    ACCEPTED = "ACCEPTED"
    PREPARING = "PREPARING"
    PREPARED = "PREPARED"
    SUBMITTING = "SUBMITTING"
    QUEUING = "QUEUING"
    RUNNING = "RUNNING"
    HELD = "HELD"
    EXITINGLRMS = "EXITINGLRMS"
    OTHER = "OTHER"
    EXECUTED = "EXECUTED"
    FINISHING = "FINISHING"
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLING = "KILLING"
    KILLED = "KILLED"
    WIPED = "WIPED"


class ArcInternalState(StrEnum):
    """A state of A-REX's job manager (``jobs/<id>/diagnose/status``)."""

    ACCEPTED = "ACCEPTED"
    PREPARING = "PREPARING"
    SUBMIT = "SUBMIT"
    INLRMS = "INLRMS"
    FINISHING = "FINISHING"
    FINISHED = "FINISHED"
    CANCELING = "CANCELING"
    DELETED = "DELETED"
    UNDEFINED = "UNDEFINED"


_W, _R = PilotStatus.WAITING, PilotStatus.RUNNING
REST_TO_PILOT: dict[ArcState, PilotStatus] = {
    ArcState.ACCEPTING: _W, ArcState.ACCEPTED: _W, ArcState.PREPARING: _W,
    ArcState.PREPARED: _W, ArcState.SUBMITTING: _W, ArcState.QUEUING: _W,
    ArcState.RUNNING: _R, ArcState.HELD: _R, ArcState.EXITINGLRMS: _R,
    ArcState.OTHER: _R, ArcState.EXECUTED: _R, ArcState.FINISHING: _R,
    ArcState.FINISHED: PilotStatus.DONE,
    ArcState.FAILED: PilotStatus.FAILED,
    ArcState.KILLING: PilotStatus.ABORTED,
    ArcState.KILLED: PilotStatus.ABORTED,
    ArcState.WIPED: PilotStatus.ABORTED,
}

#: internal states whose meaning does not depend on anything else; INLRMS and FINISHED do
INTERNAL_TO_PILOT: dict[ArcInternalState, PilotStatus] = {
    ArcInternalState.ACCEPTED: _W,
    ArcInternalState.PREPARING: _W,
    ArcInternalState.SUBMIT: _W,
    ArcInternalState.FINISHING: _R,
    # cancelling ends in KILLED; DIRAC reports a killing job as Aborted already
    ArcInternalState.CANCELING: PilotStatus.ABORTED,
    # removed after its lifetime: like a WIPED job, whatever its outcome was
    ArcInternalState.DELETED: PilotStatus.ABORTED,
    ArcInternalState.UNDEFINED: PilotStatus.UNKNOWN,
}


def parse_rest_state(text: str | None) -> ArcState | None:
    """The REST state named by ``text`` (any case, ``arcrest:`` prefix allowed), or None."""
    if not text:
        return None
    name = text.strip().upper().removeprefix("ARCREST:")
    try:
        return ArcState(name)
    except ValueError:
        return None


def parse_internal_state(text: str | None) -> ArcInternalState | None:
    """The internal state in a ``diagnose/status`` body (first word), or None if unknown."""
    words = (text or "").split()
    if not words:
        return None
    try:
        return ArcInternalState(words[0].upper())
    except ValueError:
        return None


def pilot_status(rest: ArcState | None, internal: ArcInternalState | None = None,
                 failure: str | None = None) -> PilotStatus:
    """The pilot status of an ARC job from what A-REX says about it.

    ``rest`` is the REST state (None when unknown), ``internal`` the internal
    state (None when not asked or unknown) and ``failure`` the text of
    ``diagnose/failed`` (None or empty when the job did not fail). A final
    REST state wins; without an internal state the REST state decides.
    Returns ``UNKNOWN`` when neither state is known.
    """
    from_rest = REST_TO_PILOT.get(rest) if rest is not None else None
    if from_rest is not None and from_rest.is_final:
        return from_rest
    if internal is None:
        return from_rest or PilotStatus.UNKNOWN
    if internal is ArcInternalState.FINISHED:
        if not failure or not failure.strip():
            return PilotStatus.DONE
        return PilotStatus.ABORTED if CANCELED_MARK in failure.lower() else PilotStatus.FAILED
    if internal is ArcInternalState.INLRMS:
        # queued or running in the batch system: only the (late) REST state tells which
        return PilotStatus.RUNNING if from_rest is PilotStatus.RUNNING else PilotStatus.WAITING
    return INTERNAL_TO_PILOT[internal]

"""Pilot statuses, as reported by computing elements and by pilots themselves."""

from __future__ import annotations

from enum import StrEnum

from dirac_core.model.status import make_table

__all__ = ["PILOT_TRANSITIONS", "PilotStatus"]


class PilotStatus(StrEnum):
    """Where a pilot job is in its life.

    DIRAC writes any pilot status unchecked; we keep its names but enforce a
    table, so that a late CE report cannot move a finished pilot backwards.
    """

    SUBMITTED = "Submitted"
    WAITING = "Waiting"
    RUNNING = "Running"
    DONE = "Done"
    FAILED = "Failed"
    ABORTED = "Aborted"
    DELETED = "Deleted"
    UNKNOWN = "Unknown"

    @property
    def is_final(self) -> bool:
        """Done, Failed, Aborted and Deleted never change again."""
        return not PILOT_TRANSITIONS[self]

    @property
    def is_waiting(self) -> bool:
        """Submitted or Waiting: the pilot holds no slot yet."""
        return self in (PilotStatus.SUBMITTED, PilotStatus.WAITING)


_S = PilotStatus
_ALIVE = (_S.DONE, _S.FAILED, _S.ABORTED, _S.DELETED, _S.UNKNOWN)
PILOT_TRANSITIONS = make_table(PilotStatus, {
    _S.SUBMITTED: (_S.WAITING, _S.RUNNING, *_ALIVE),
    _S.WAITING: (_S.RUNNING, *_ALIVE),
    _S.RUNNING: _ALIVE,
    # a CE that could not be asked for a while: any later report is believed
    _S.UNKNOWN: (_S.SUBMITTED, _S.WAITING, _S.RUNNING, _S.DONE, _S.FAILED, _S.ABORTED, _S.DELETED),
    _S.DONE: (),
    _S.FAILED: (),
    _S.ABORTED: (),
    _S.DELETED: (),
})

"""Staging statuses: a file on a tape storage element on its way to disk."""

from __future__ import annotations

from enum import StrEnum

from dirac_core.model.status import make_table

__all__ = ["STAGE_TRANSITIONS", "StageStatus"]


class StageStatus(StrEnum):
    """Where a replica's recall is (DIRAC's storage management names).

    New: asked for; Waiting: queued behind the SE's limit of recalls in flight;
    Offline: checked, on tape only; StageSubmitted: the SE was asked to recall it;
    Staged: online, readable; Failed: the SE cannot recall it, or it took too long.
    """

    NEW = "New"
    WAITING = "Waiting"
    OFFLINE = "Offline"
    STAGE_SUBMITTED = "StageSubmitted"
    STAGED = "Staged"
    FAILED = "Failed"


_S = StageStatus
STAGE_TRANSITIONS = make_table(StageStatus, {
    _S.NEW: (_S.WAITING, _S.STAGED, _S.FAILED),
    _S.WAITING: (_S.OFFLINE, _S.STAGED, _S.FAILED),
    _S.OFFLINE: (_S.STAGE_SUBMITTED, _S.STAGED, _S.FAILED),
    _S.STAGE_SUBMITTED: (_S.STAGED, _S.FAILED),
    _S.STAGED: (),
    _S.FAILED: (),
})

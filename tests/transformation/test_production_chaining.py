"""Production steps chain when the next step's input query matches the previous step's output query."""

from __future__ import annotations

from typing import Any

import pytest

from dirac_core.errors import InvalidTransition
from dirac_core.model.production import PRODUCTION_TRANSITIONS, ProductionStatus
from dirac_core.model.status import check_transition
from dirac_core.transformation.chaining import chain_problem


@pytest.mark.parametrize(("output", "input_", "problem"), [
    ({"step": "reco", "year": 2018}, {"step": "reco"}, None),
    ({"step": "reco", "year": [2017, 2018]}, {"year": 2018, "step": {"=": "reco"}}, None),
    ({"step": "reco", "year": 2018}, {"year": {"in": [2017, 2018]}}, None),  # one set holds the other
    ({"step": "reco"}, {"step": "reco", "tier": 2}, "'tier', which the previous step's output does not set"),
    ({"step": "reco", "year": [2017, 2018]}, {"year": [2018, 2019]}, "'year': the previous step produces"),
    ({"step": "sim"}, {"step": "reco"}, "'step'"),
    ({"step": "reco"}, {"step": {"!=": "sim"}}, "only '=' and 'in'"),
    ({"energy": {">": 1}}, {"energy": 2}, "only '=' and 'in'"),
    ({"step": "reco"}, {}, "no input query"),
    ({"step": "reco"}, {"step": True}, "strings or numbers"),
])
def test_chaining_rule(output: dict[str, Any], input_: dict[str, Any], problem: str | None) -> None:
    found = chain_problem(output, input_)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_the_production_state_machine_refuses_what_dirac_silently_ignored() -> None:
    p = ProductionStatus
    assert check_transition(PRODUCTION_TRANSITIONS, p.STOPPED, p.FLUSH) is p.FLUSH
    assert check_transition(PRODUCTION_TRANSITIONS, p.COMPLETED, p.CLEANED) is p.CLEANED
    for current, target in ((p.NEW, p.STOPPED), (p.COMPLETED, p.ACTIVE), (p.CLEANED, p.ACTIVE)):
        with pytest.raises(InvalidTransition):
            check_transition(PRODUCTION_TRANSITIONS, current, target)

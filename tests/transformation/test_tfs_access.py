"""Who may see, create and change transformations and productions through a server: one table."""

from __future__ import annotations

import pytest

from dirac_core.model.identity import Identity
from dirac_core.transformation.access import may_change, may_create, may_see


class _Authored:
    """A transformation or production of VO ``vo``."""

    def __init__(self, vo: str) -> None:
        self.vo = vo


def _who(vo: str, *properties: str) -> Identity:
    return Identity(user="u", group="g", vo=vo, properties=set(properties))


#: identity, item's VO -> may see, may create, may change
RULES = [
    (_who("demo", "NormalUser"), "demo", True, False, False),
    (_who("demo"), "demo", True, False, False),
    (_who("demo", "GenericPilot"), "demo", True, False, False),
    (_who("demo", "JobAdministrator", "Operator"), "demo", True, False, False),
    (_who("demo", "ProductionManagement"), "demo", True, True, True),
    (_who("demo", "NormalUser", "ProductionManagement"), "demo", True, True, True),
    (_who("demo", "ServiceAdministrator"), "demo", True, True, True),
    (_who("demo", "ProductionUser", "ProductionSharing"), "demo", True, False, False),
    (_who("other", "NormalUser"), "demo", False, False, False),
    (_who("other", "ProductionManagement"), "demo", False, True, False),
    (_who("other", "ServiceAdministrator"), "demo", False, True, False),
]


@pytest.mark.parametrize(("identity", "vo", "see", "create", "change"), RULES)
def test_access_rules(identity: Identity, vo: str, see: bool, create: bool, change: bool) -> None:
    item = _Authored(vo)
    assert may_see(identity, item) is see
    assert may_create(identity) is create
    assert may_change(identity, item) is change

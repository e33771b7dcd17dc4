"""The in-memory drivers pass the conformance suites (as every real driver must)."""

from __future__ import annotations

import pytest

from dirac_core.errors import InvalidTransition
from dirac_core.model import PilotStatus
from dirac_core.plugins import CEStatus, free_slots
from dirac_core.testing import MemoryCatalog, MemoryComputingElement, MemoryStorage
from dirac_core.testing.conformance import CatalogSuite, ComputingElementSuite, StorageProtocolSuite


class TestMemoryStorage(StorageProtocolSuite):
    capabilities = frozenset({"checksum"})

    @pytest.fixture
    def driver(self) -> MemoryStorage:
        return MemoryStorage()


class TestMemoryCatalog(CatalogSuite):
    @pytest.fixture
    def driver(self) -> MemoryCatalog:
        return MemoryCatalog()


class TestMemoryComputingElement(ComputingElementSuite):
    capabilities = frozenset({"output"})

    @pytest.fixture
    def driver(self) -> MemoryComputingElement:
        return MemoryComputingElement()

    def test_status_follows_the_pilot_table(self, driver: MemoryComputingElement) -> None:
        ref = driver.submit("exit 0", ["s"]).ok["s"]
        driver.set_status(ref, PilotStatus.RUNNING)
        assert driver.ce_status() == CEStatus(running=1, waiting=0)
        driver.set_status(ref, PilotStatus.DONE)
        with pytest.raises(InvalidTransition):
            driver.set_status(ref, PilotStatus.RUNNING)
        driver.kill([ref])
        assert driver.status([ref]).ok[ref] is PilotStatus.DONE


def test_a_suite_refuses_unknown_capabilities() -> None:
    class Claims(StorageProtocolSuite):
        capabilities = frozenset({"teleport"})

    with pytest.raises(AssertionError, match="teleport"):
        Claims().test_declared_capabilities_are_known()


@pytest.mark.parametrize(("running", "waiting", "procs", "expected"), [
    (0, 0, None, 5),      # empty CE: the waiting allowance
    (8, 0, None, 2),      # capped by the total
    (0, 5, None, 0),      # waiting allowance used up
    (10, 0, None, 0),     # total reached
    (0, 1, 2, 2),         # capped by free processors
])
def test_free_slots_dirac_rule(running: int, waiting: int, procs: int | None, expected: int) -> None:
    status = CEStatus(running=running, waiting=waiting, available_processors=procs)
    assert free_slots(status, max_total=10, max_waiting=5) == expected


def test_drivers_close_as_context_managers() -> None:
    closed: list[str] = []

    class Tracking(MemoryCatalog):
        def close(self) -> None:
            closed.append(self.name)

    with Tracking("c1") as catalog:
        assert isinstance(catalog, Tracking)
    assert closed == ["c1"]
    with pytest.raises(RuntimeError), Tracking("c2"):
        raise RuntimeError("boom")
    assert closed == ["c1", "c2"]

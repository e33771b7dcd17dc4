"""Conformance suite for :class:`~dirac_core.plugins.computing.ComputingElement` drivers.

Subclass :class:`ComputingElementSuite` and provide a ``driver`` fixture. A
pilot submitted here must be a harmless script (``exit 0``), since real CEs
run it. Capabilities: ``output`` (the CE keeps pilot output).
"""

from __future__ import annotations

import pytest

from dirac_core.errors import NotFound
from dirac_core.model.pilot import PilotStatus
from dirac_core.plugins.computing import ComputingElement
from dirac_core.testing.conformance.base import ConformanceSuite

__all__ = ["PILOT_SCRIPT", "ComputingElementSuite"]

PILOT_SCRIPT = "#!/bin/sh\necho conformance-pilot\nexit 0\n"


class ComputingElementSuite(ConformanceSuite):
    """Tests every computing element driver must pass."""

    known_capabilities = frozenset({"output"})

    @pytest.fixture
    def driver(self) -> ComputingElement:
        raise NotImplementedError("the driver's test module provides the driver fixture")

    def test_submit_gives_one_reference_per_stamp(self, driver: ComputingElement) -> None:
        res = driver.submit(PILOT_SCRIPT, ["stamp-1", "stamp-2"])
        assert res.all_ok and set(res.ok) == {"stamp-1", "stamp-2"}
        assert len(set(res.ok.values())) == 2

    def test_status_of_submitted_and_unknown(self, driver: ComputingElement) -> None:
        ref = driver.submit(PILOT_SCRIPT, ["s"]).ok["s"]
        res = driver.status([ref, "no-such-reference"])
        assert isinstance(res.ok[ref], PilotStatus)
        assert isinstance(res.failed["no-such-reference"], NotFound)

    def test_kill_then_final(self, driver: ComputingElement) -> None:
        ref = driver.submit(PILOT_SCRIPT, ["s"]).ok["s"]
        assert driver.kill([ref]).all_ok
        assert driver.kill([ref]).all_ok  # killing a finished pilot succeeds

    def test_ce_status_counts_are_sane(self, driver: ComputingElement) -> None:
        driver.submit(PILOT_SCRIPT, ["s"])
        status = driver.ce_status()
        assert status.running >= 0 and status.waiting >= 0

    def test_output_when_kept(self, driver: ComputingElement) -> None:
        ref = driver.submit(PILOT_SCRIPT, ["s"]).ok["s"]
        out, err = driver.output(ref)
        assert isinstance(out, str) and isinstance(err, str)

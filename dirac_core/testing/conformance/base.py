"""What every conformance suite shares: declared capabilities.

A suite is a pytest class with test methods written against a contract. A
driver's test module subclasses it and supplies the ``driver`` fixture; the
subclass declares what the driver can do in ``capabilities`` (data, not
code), and tests of optional behaviour check the declared answer instead of
being skipped, so a driver that claims a capability it lacks fails.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = ["ConformanceSuite"]


class ConformanceSuite:
    """Base of the conformance suites."""

    #: Optional features the driver under test claims (names are per suite).
    capabilities: ClassVar[frozenset[str]] = frozenset()
    #: Every capability name the suite knows; a typo in ``capabilities`` fails.
    known_capabilities: ClassVar[frozenset[str]] = frozenset()

    def has(self, capability: str) -> bool:
        """Whether the driver under test declares ``capability``."""
        if capability not in self.known_capabilities:
            raise AssertionError(f"{type(self).__name__} has no capability {capability!r}")
        return capability in self.capabilities

    def test_declared_capabilities_are_known(self) -> None:
        unknown = self.capabilities - self.known_capabilities
        assert not unknown, f"unknown capabilities declared: {sorted(unknown)}"

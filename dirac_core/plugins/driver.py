"""What every driver contract shares: a documented resource lifecycle."""

from __future__ import annotations

from abc import ABC
from types import TracebackType
from typing import Self

__all__ = ["Driver"]


class Driver(ABC):  # noqa: B024 - the contracts deriving from it add the abstract methods
    """Base of the driver contracts: ``close()`` releases what the driver holds.

    A driver is also a context manager that closes itself on exit. The default
    ``close()`` does nothing, for drivers that hold no connection.
    """

    def close(self) -> None:
        """Release connections, sessions and temporary files."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

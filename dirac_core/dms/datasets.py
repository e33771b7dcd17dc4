"""What every catalog computes the same way for datasets."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

__all__ = ["dataset_checksum"]


def dataset_checksum(lfns: Iterable[str]) -> str:
    """The checksum of a dataset's content: upper-case MD5 of its sorted LFNs, one per line.

    It depends on which files the dataset holds, not on their order, and
    changes when a file is added or removed (DIRAC's ``DatasetHash`` rule).
    """
    text = "\n".join(sorted(set(lfns)))
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest().upper()

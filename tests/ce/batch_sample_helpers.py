"""Shared by the batch-driver tests: recorded outputs, submissions, reading argument vectors."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

from dirac_core.model.pilot import PilotStatus
from dirac_core.plugins.batch import BatchSubmission

SAMPLES = Path(__file__).parent / "samples"
PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"

SCRIPT = "/home/dirac/pilots/pilot.sh"
OUTPUT_DIR = "/home/dirac/out"

W, R, D, F, A, U = (PilotStatus.WAITING, PilotStatus.RUNNING, PilotStatus.DONE, PilotStatus.FAILED,
                    PilotStatus.ABORTED, PilotStatus.UNKNOWN)


def sample(system: str, name: str) -> str:
    """The text of ``samples/<system>/<name>``."""
    return (SAMPLES / system / name).read_text()


def submission(**options: Any) -> BatchSubmission:
    """A submission of :data:`SCRIPT` into :data:`OUTPUT_DIR`, with ``options`` overriding."""
    return BatchSubmission(**{"script": SCRIPT, "output_dir": OUTPUT_DIR, **options})


def full_submission(**options: Any) -> BatchSubmission:
    """A submission that uses every field, for the command-building tests."""
    return submission(**{
        "count": 3, "queue": "long", "name": "dirac-pilot", "processors": 4, "memory_mb": 8000,
        "wall_seconds": 86400 + 1800 + 5, "extra_options": ("--site-option", "x y"),
        "environment": {"DIRAC_PILOT_STAMP": "a1b2c3", "DIRAC_NOTE": "spaces, commas 'and' \"quotes\""},
        **options,
    })


def values(argv: Sequence[str], flag: str) -> list[str]:
    """Every word following ``flag`` in ``argv``."""
    return [argv[i + 1] for i, word in enumerate(argv[:-1]) if word == flag]


def value(argv: Sequence[str], flag: str) -> str:
    """The one word following ``flag`` (the test fails when ``flag`` is absent or repeated)."""
    found = values(argv, flag)
    assert len(found) == 1, f"{flag} appears {len(found)} times in {list(argv)}"
    return found[0]


def declared_batch_system(name: str) -> Any:
    """What pyproject.toml registers as ``name`` in ``dirac.batch_systems``, loaded.

    Read from the source tree rather than the installed metadata, which lags
    behind until the package is reinstalled.
    """
    group = "dirac.batch_systems"
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["entry-points"][group]
    return EntryPoint(name=name, value=declared[name], group=group).load()

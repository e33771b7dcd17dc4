"""What a site director is built from by default: CE drivers from the configuration, and the
pilot script each pilot runs.

The script starts ``dirac-core pilot`` with the Python that runs this
process (so a worker node sharing the installation, such as a local cluster's
node, needs nothing else), against the server (with a pilot token made for
the pilot's stamp) or against an embedded interware's directory.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from dirac_core.plugins.computing import CEContext, ComputingElement
from dirac_core.plugins.groups import PluginGroup
from dirac_core.plugins.loading import load_driver
from dirac_core.wms.director import QueueTarget

__all__ = ["ce_factory", "pilot_script"]


def ce_factory(work_dir: Path | str, *, proxy_file: str | None = None,
               token_file: str | None = None) -> Callable[[QueueTarget], ComputingElement]:
    """Build each queue's CE driver from its section (entry points ``dirac.computing_elements``),
    with a private folder per CE under ``work_dir``."""
    def make(target: QueueTarget) -> ComputingElement:
        driver = load_driver(PluginGroup.COMPUTING_ELEMENTS, target.ce.type)
        folder = os.path.join(str(work_dir), target.site, target.ce.name)
        ce: ComputingElement = driver.from_section(target.ce, target.queue, CEContext(
            work_dir=folder, proxy_file=proxy_file, token_file=token_file))
        return ce
    return make


def pilot_script(target: QueueTarget, stamp: str, *, server: str | None = None, local: str | None = None,
                 token: str | None = None, python: str = sys.executable,
                 extra: Sequence[str] = ()) -> str:
    """A ``/bin/sh`` script that runs one pilot for ``target`` (exactly one of ``server``, ``local``)."""
    if (server is None) == (local is None):
        raise ValueError("a pilot script needs exactly one of server and local")
    argv = [python, "-m", "dirac_core.cli", "pilot", "--site", target.site, "--ce", target.ce.name,
            "--queue", target.queue.name, "--stamp", stamp,
            *(["--server", server] if server else ["--local", str(local)]), *extra]
    lines = ["#!/bin/sh", f"# dirac-core pilot {stamp} for {target.key}"]
    if token is not None:
        lines += [f"DIRAC_PILOT_TOKEN={shlex.quote(token)}", "export DIRAC_PILOT_TOKEN"]
    lines += [f'WORK="${{TMPDIR:-/tmp}}/dirac-pilot-{stamp}"', 'mkdir -p "$WORK" && cd "$WORK" || exit 1',
              f'{shlex.join(argv)} --work-dir "$WORK/jobs"', 'status=$?', 'cd / && rm -rf "$WORK"',
              'exit $status']
    return "\n".join(lines) + "\n"

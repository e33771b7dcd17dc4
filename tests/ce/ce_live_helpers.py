"""Helpers of the live CE tests: transports to the test sshd, polling a real batch system."""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from typing import Any

from dirac_core.model.pilot import PilotStatus
from dirac_core.plugins.batch import BatchSystem
from dirac_core.plugins.transport import Transport
from dirac_core.testing.sshd import SshdServer
from dirac_plugins_ce.transports import SSHTransport

#: How long a live test waits for a real batch system to reach a state.
LIVE_DEADLINE = 90.0


def ssh_transport(server: SshdServer, **options: Any) -> SSHTransport:
    """An SSH transport logging in to the test server with its key, checking its host key."""
    settings: dict[str, Any] = {"host": server.host, "port": server.port, "user": server.user,
                                "key_file": str(server.client_key), "known_hosts": str(server.known_hosts),
                                "connect_timeout": 10.0}
    settings.update(options)
    return SSHTransport(**settings)


def current_statuses(transport: Transport, batch: BatchSystem,
                     job_ids: Sequence[str]) -> dict[str, PilotStatus]:
    """What the batch system says now: the status command, then the history for jobs it omits."""
    result = transport.run(batch.status_command(job_ids))
    statuses = batch.parse_status(result.stdout, job_ids) if result.ok else {}
    missing = [job for job in job_ids if job not in statuses]
    history = batch.history_command(missing) if missing else None
    if history is not None:
        found = transport.run(history)
        if found.ok:
            statuses.update(batch.parse_history(found.stdout, missing))
    return statuses


def wait_for(transport: Transport, batch: BatchSystem, job_ids: Sequence[str],
             accepted: Collection[PilotStatus], *, deadline: float = LIVE_DEADLINE,
             history: bool = False) -> dict[str, PilotStatus]:
    """Poll until every job's status is in ``accepted``; AssertionError with the last statuses if not.

    ``history=True`` asks only the history command (``sacct``), to test it alone.
    """
    end = time.monotonic() + deadline
    seen: dict[str, PilotStatus] = {}
    while time.monotonic() < end:
        if history:
            command = batch.history_command(job_ids)
            assert command is not None
            result = transport.run(command)
            seen = batch.parse_history(result.stdout, job_ids) if result.ok else {}
        else:
            seen = current_statuses(transport, batch, job_ids)
        if len(seen) == len(job_ids) and all(status in accepted for status in seen.values()):
            return seen
        if len(seen) == len(job_ids) and all(status.is_final for status in seen.values()):
            break  # finished otherwise: waiting longer changes nothing
        time.sleep(0.5)
    raise AssertionError(f"jobs {list(job_ids)} not in {sorted(accepted)}: {seen}")

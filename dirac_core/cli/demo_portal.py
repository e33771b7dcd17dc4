"""The demo's last step: the accounting summary of what ran, and where the web portal is.

The server the demo started stops with the demo, so the portal's address printed for later is
the one ``dirac-core server --local PATH`` serves (on this demo's database); while the demo runs
its own server is asked for the portal's login page, to show that it is there.
"""

from __future__ import annotations

from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from dirac_core.interware import Interware

__all__ = ["portal_and_accounting"]

#: where ``dirac-core server --local PATH`` listens by default
DEFAULT_SERVER = "http://127.0.0.1:8000"


def _accounting(console: Console, iw: Interware) -> None:
    found = iw.accounting.summary("job")
    table = Table(found["group_by"], *(f"{m['label']} ({m['unit']})" for m in found["measures"]),
                  title="Accounting: the jobs that ended in the last 7 days, per site")
    for key, *values in found["rows"]:
        table.add_row(str(key), *(f"{value:g}" for value in values))
    console.print(table)


def _portal(console: Console, path: Path, url: str | None) -> None:
    if url is not None:
        answer = httpx.get(f"{url}/portal/login", timeout=10)
        policy = answer.headers.get("content-security-policy", "")
        console.print(f"web portal: served at {url}/portal/ while the demo ran (login page: HTTP "
                      f"{answer.status_code}, Content-Security-Policy {policy.split(';')[0]!r}...)",
                      highlight=False)
    console.print(f"web portal of this demo's interware: run [bold]dirac-core server --local {path}[/bold], "
                  f"then open [bold]{DEFAULT_SERVER}/portal/[/bold] and log in with a development "
                  "password it prints", highlight=False)


def portal_and_accounting(console: Console, iw: Interware, path: Path, url: str | None) -> None:
    """Print the accounting summary of the demo's jobs, then the portal's address."""
    _accounting(console, iw)
    _portal(console, path, url)
